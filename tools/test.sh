#!/usr/bin/env bash
# The whole test suite: installs what is missing, runs the Python tool self-tests and the Swift
# tests (which include the h5py+hdf5plugin cross-checks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
python3 tools/selftest_crosscheck.py
python3 tools/check_doc_snippets.py formats/bfloat16.md
swift test
