#!/usr/bin/env bash
# The end-to-end example: build ckpt, write a synthetic GPT-2 124M checkpoint with AdamW state,
# summarise it and verify it. Usage: tools/demo.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/ckpt-demo}
mkdir -p "$out"
swift build -c release --product ckpt
ckpt=.build/release/ckpt
$ckpt synth --family gpt2 --preset 124m --optimizer adamw --force --out "$out/gpt2-124m.h5"
$ckpt info "$out/gpt2-124m.h5"
$ckpt ls "$out/gpt2-124m.h5" > "$out/ls.txt"
head -8 "$out/ls.txt"
$ckpt verify "$out/gpt2-124m.h5"
