#!/usr/bin/env bash
# Runs both fuzz targets for SECONDS each (default 300) over the committed corpora, keeping new
# units in a scratch directory, then merges the units that add coverage into corpus/.
#   tools/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-300}"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | grep -E "error|Build complete" || true
for t in safetensors hf-json; do
    scratch="$(mktemp -d "${TMPDIR:-/tmp}/ckpt-fuzz-$t-XXXXXX")"
    mkdir -p "$scratch/new" "$scratch/crashes"
    ".build/release/fuzz-$t" "$scratch/new" "corpus/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$scratch/crashes/" 2>&1 | grep -E "^Done|stat::|ERROR|SUMMARY" || true
    ".build/release/fuzz-$t" -merge=1 "corpus/$t" "$scratch/new" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
    crashes=$(ls "$scratch/crashes" | wc -l)
    echo "fuzz-$t: $crashes crash input(s) in $scratch/crashes"
    [ "$crashes" -eq 0 ] && rm -rf "$scratch"
done
