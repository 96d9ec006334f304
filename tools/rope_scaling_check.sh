#!/usr/bin/env bash
# RoPE scaling through every ckpt route, checked with transformers and megatron-core
# (tools/rope_scaling_check.py). Needs the venv of tools/make_interop_fixtures.py (torch,
# transformers 5.24, megatron-core 0.16.1); not run in CI.
#   tools/rope_scaling_check.sh [venv python, default /work/venv/bin/python]
# transformers writes tiny LLaMAs with llama3 (Llama 3.1 and 3.2 factors, and other bands) and
# linear scaling; ckpt converts each to wafer / megatron-torch / megatron-dist / cerebras and
# back to hf; the check loads every result in transformers (same rope_parameters, identical
# weights and logits) and builds megatron-core's RotaryEmbedding from the Megatron args.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-/work/venv/bin/python}"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/ckpt-rope-XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
swift build 2>&1 | grep -E "error|Compiling|Build complete" | tail -1
CKPT="$(swift build --show-bin-path)/ckpt"
"$PY" tools/rope_scaling_check.py make "$OUT" 2>&1 | grep -v -E "Warning|warn\(" || true
for d in "$OUT"/*/; do
  for route in $(cat "$d/routes"); do
    case "$route" in
      wafer) "$CKPT" convert "$d/orig" --to wafer --out "$d/wafer.h5" >/dev/null
             "$CKPT" convert "$d/wafer.h5" --to hf --out "$d/via-wafer" >/dev/null ;;
      megatron-torch) "$CKPT" convert "$d/orig" --to megatron-torch --tp 2 --pp 2 --out "$d/megatron-torch" >/dev/null
             "$CKPT" convert "$d/megatron-torch" --to hf --vocab 101 --out "$d/via-megatron-torch" >/dev/null ;;
      megatron-dist) "$CKPT" convert "$d/orig" --to megatron-dist --tp 2 --pp 1 --out "$d/megatron-dist" >/dev/null
             "$CKPT" convert "$d/megatron-dist" --to hf --vocab 101 --out "$d/via-megatron-dist" >/dev/null ;;
      cerebras) "$CKPT" convert "$d/orig" --to cerebras --out "$d/cerebras.mdl" >/dev/null
             "$CKPT" convert "$d/cerebras.mdl" --to hf --out "$d/via-cerebras" >/dev/null ;;
    esac
  done
done
"$PY" tools/rope_scaling_check.py check "$OUT" 2>&1 | grep -v -E "Warning|warn\(|it/s\]"
