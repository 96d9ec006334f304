#!/bin/sh
# Runs one libFuzzer target of tools/fuzz for a bounded time:
#     tools/fuzz.sh TARGET SECONDS        (e.g. tools/fuzz.sh pickle 300)
# Builds tools/fuzz (product fuzz-TARGET) with -sanitize=fuzzer,address, seeds it with the
# committed corpus tools/fuzz/corpus/TARGET/ (read-only) and keeps new inputs in
# tools/fuzz/.build/corpus-TARGET/. Crashes, leaks, timeouts and OOMs land in
# tools/fuzz/artifacts/TARGET/; each one becomes a regression test and a fix.
# FUZZ_MERGE=1 afterwards merges inputs that add coverage into the committed corpus.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 TARGET SECONDS" >&2; exit 2; }
TARGET=$1
TIME=$2
cd "$(dirname "$0")/fuzz"
[ -d "corpus/$TARGET" ] || { echo "no corpus/$TARGET (targets: $(ls corpus | tr '\n' ' '))" >&2; exit 2; }
swift build -c debug -Xswiftc -sanitize=fuzzer,address --product "fuzz-$TARGET" 2>&1 | grep -E "error|Compiling|Build" | tail -3
BIN=.build/debug/fuzz-$TARGET
mkdir -p ".build/corpus-$TARGET" "artifacts/$TARGET"
"$BIN" -max_total_time="$TIME" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$TARGET/" ".build/corpus-$TARGET" "corpus/$TARGET"
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$BIN" -merge=1 -max_len=65536 "corpus/$TARGET" ".build/corpus-$TARGET"
fi
