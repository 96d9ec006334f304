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
# Out to the formats users hold and back: Hugging Face (optimizer state dropped, said so), then
# Megatron-LM's torch format at TP2 x PP2, checked against the original tensor by tensor.
$ckpt convert "$out/gpt2-124m.h5" --to hf --force --out "$out/gpt2-124m-hf"
$ckpt convert "$out/gpt2-124m-hf" --to megatron-torch --tp 2 --pp 2 --force --out "$out/gpt2-124m-mlm"
$ckpt verify "$out/gpt2-124m-mlm"
$ckpt convert "$out/gpt2-124m-mlm" --to wafer --force --out "$out/gpt2-124m-back.h5"
$ckpt get "$out/gpt2-124m.h5" layers.11.attn.q.weight --force --out "$out/q-original.npy" > /dev/null
$ckpt get "$out/gpt2-124m-back.h5" layers.11.attn.q.weight --force --out "$out/q-back.npy" > /dev/null
cmp "$out/q-original.npy" "$out/q-back.npy" && echo "demo: layers.11.attn.q.weight identical after wafer -> hf -> megatron-torch -> wafer"
