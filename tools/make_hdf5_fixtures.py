#!/usr/bin/env python3
"""Write the HDF5 fixture files the Swift tests read (Tests/CheckpointStoreTests/Fixtures/).

h5py-libver-latest.h5: a minimal ckpt checkpoint (root attributes, one chunked float32 tensor
with Fletcher32) written by h5py with libver='latest'. With h5py's bundled HDF5 >= 1.12 its
filtered chunked dataset has a layout message in a version HDF5 1.10 cannot read, so a ckpt linked against 1.10 must say which
HDF5 it needs instead of calling the file damaged. Needs h5py built on HDF5 >= 1.12.

Usage: python3 tools/make_hdf5_fixtures.py [output directory]
"""
import json
import os
import sys

import h5py
import numpy as np


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CheckpointStoreTests", "Fixtures")
    major, minor = (int(x) for x in h5py.version.hdf5_version.split(".")[:2])
    if (major, minor) < (1, 12):
        print(f"h5py uses HDF5 {h5py.version.hdf5_version}; the fixture needs HDF5 >= 1.12", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "h5py-libver-latest.h5")
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["format"] = "ckpt"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["writer"] = f"tools/make_hdf5_fixtures.py (h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version})"
        f.attrs["created"] = "2026-12-02T00:00:00Z"
        f.attrs["tensor_count"] = np.int64(1)
        f.attrs["parameter_count"] = np.int64(16)
        f.attrs["step"] = np.int64(0)
        f.attrs["layout"] = json.dumps({"kind": "wafer"})
        d = f.create_dataset("model/w", data=np.arange(16, dtype="<f4"), chunks=(8,), fletcher32=True)
        d.attrs["dtype"] = "float32"
        d.attrs["codec"] = "none"
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
