#!/usr/bin/env bash
# The whole test suite: installs what is missing, runs the Python tool self-tests, the bounded CI
# part of the fault suite (tools/soak --ci: corruption, kills, signals, concurrency) against the
# built binary, and the Swift tests (which include the h5py+hdf5plugin cross-checks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
python3 tools/selftest_crosscheck.py
python3 tools/check_doc_snippets.py formats/bfloat16.md
swift build
python3 tools/soak --ci --ckpt .build/debug/ckpt
swift test
