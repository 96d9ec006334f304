#!/usr/bin/env bash
# Writes safetensors files and Hugging Face directories with ckpt's writers (the
# HFInteropExportTests suite, enabled by CKPT_INTEROP_OUT) and loads them with the real
# safetensors and transformers (tools/st_interop_check.py). Needs the venv of
# tools/make_interop_fixtures.py (torch, transformers, safetensors, xxhash).
#   tools/st_interop_check.sh [venv python, default /work/venv/bin/python]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-/work/venv/bin/python}"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/ckpt-st-interop-XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
CKPT_INTEROP_OUT="$OUT" swift test --filter HFInteropExportTests 2>&1 | grep -E "✘|error|Test run" || true
# Every HF fixture through ckpt's wafer file and back, with the ckpt binary.
CKPT="$(swift build --show-bin-path)/ckpt"
for d in Tests/Fixtures/interop/hf-*/; do
  name="$(basename "$d")"
  "$CKPT" convert "$d" --to wafer --out "$OUT/$name.h5" >/dev/null
  "$CKPT" convert "$OUT/$name.h5" --to hf --out "$OUT/via-wafer-$name" >/dev/null
done
"$PY" tools/st_interop_check.py "$OUT" Tests/Fixtures/interop 2>&1 | grep -v -E "Warning|warn\(|it/s\]"
