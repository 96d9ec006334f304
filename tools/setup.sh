#!/usr/bin/env bash
# Installs what ckpt needs on a fresh Debian 12 machine (as root): the C libraries and the Python
# packages the cross-check tests use. Swift 6 itself is expected on PATH. Safe to run again.
set -euo pipefail
apt_pkgs=(libhdf5-dev libzstd-dev liblz4-dev libopenblas-dev libxxhash-dev zlib1g-dev libdeflate-dev hdf5-tools pkg-config python3 python3-pip)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
py_missing=0
python3 -c "import numpy, h5py, hdf5plugin, xxhash, ml_dtypes" 2>/dev/null || py_missing=1
if [ "$py_missing" = 1 ]; then
  echo "setup: installing Python packages numpy h5py hdf5plugin xxhash ml_dtypes"
  python3 -m pip install -q numpy h5py hdf5plugin xxhash ml_dtypes 2>/dev/null \
    || python3 -m pip install -q --break-system-packages numpy h5py hdf5plugin xxhash ml_dtypes
fi
command -v swift >/dev/null || { echo "setup: swift not found on PATH (install Swift 6 first)"; exit 1; }
echo "setup: ok"
