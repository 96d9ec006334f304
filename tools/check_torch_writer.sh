#!/bin/sh
# Writes archives with ckpt's TorchArchiveWriter (the Swift test TorchWriterExportTests) and
# loads each with the real torch.load(weights_only=True) (tools/check_torch_writer.py).
# Needs the venv with torch and megatron-core: PYTHON=/work/venv/bin/python by default.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/work/venv/bin/python}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-torch-writer.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
CKPT_TORCH_EXPORT_DIR="$OUT" swift test --filter TorchWriterExportTests 2>&1 | grep -E "✘|passed|failed" | tail -3
"$PYTHON" tools/check_torch_writer.py "$OUT"
