#!/usr/bin/env python3
"""Self-test of tools/crosscheck.py and tools/ckpt_reader.py using files written with h5py.

Writes a format-v1.1 file (``crosscheck.py write --v1-storage``), checks that ``check`` accepts
it, then damages copies of it in several ways (one of them a raw one-byte edit of ``lr`` that only
the v1.1 metadata checksum catches) and checks that ``check`` rejects each one with exit status 1
and names the damaged tensor or item. Also checks that the foreign-storage file from
``crosscheck.py write`` reads back through ckpt_reader with the hashes of FILE.expected.json.
Exit 0 when every case behaves as expected.

    python3 tools/selftest_crosscheck.py [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ckpt_reader as cr  # noqa: E402

CROSSCHECK = os.path.join(HERE, "crosscheck.py")
CHUNK_BYTES = "3000"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run crosscheck.py with arguments, capturing output."""
    return subprocess.run([sys.executable, CROSSCHECK, *args], capture_output=True, text=True)


def flip_chunk_byte(path: str) -> str:
    """Flip one byte in the middle of the first stored chunk of an edge-chunked tensor."""
    key = "embed.tokens.weight"
    with h5py.File(path, "r") as f:
        info = f[cr.key_to_path(key)].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        pos = info.byte_offset + info.size // 2
        fh.seek(pos)
        b = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([b[0] ^ 0x40]))
    return key


def wrong_hash(path: str) -> str:
    """Overwrite one tensor's xxh3_64 attribute."""
    key = "layers.1.mlp.up.weight"
    with h5py.File(path, "r+") as f:
        ds = f[cr.key_to_path(key)]
        ds.attrs["xxh3_64"] = np.uint64(int(ds.attrs["xxh3_64"]) ^ 1)
    return key


def wrong_dtype_attr(path: str) -> str:
    """Claim float16 for a bfloat16 tensor."""
    key = "layers.0.attn.q.weight"
    with h5py.File(path, "r+") as f:
        f[cr.key_to_path(key)].attrs["dtype"] = "float16"
    return key


def wrong_tensor_count(path: str) -> str:
    """Root tensor_count off by one."""
    with h5py.File(path, "r+") as f:
        f.attrs["tensor_count"] = np.int64(int(f.attrs["tensor_count"]) + 1)
    return "root attributes"


def dirty_padding(path: str) -> str:
    """Rewrite the last (edge) chunk of a tensor with non-zero padding and a valid checksum."""
    key = "embed.tokens.weight"
    with h5py.File(path, "r+") as f:
        ds = f[cr.key_to_path(key)]
        chunk = ds.chunks
        n = ds.id.get_num_chunks()
        info = ds.id.get_chunk_info(n - 1)
        rows = ds.shape[0] - info.chunk_offset[0]
        assert rows < chunk[0], "the test tensor must have an edge chunk"
        block = np.full(chunk, 7.0, dtype=np.float32)
        block[:rows] = ds[info.chunk_offset[0]:]
        # Let HDF5 encode the full chunk (shuffle, zstd, Fletcher32) in an in-memory file.
        with h5py.File("pad", "w", driver="core", backing_store=False) as mem:
            tmp = h5py.h5d.create(mem.id, b"c", ds.id.get_type(), h5py.h5s.create_simple(chunk, chunk),
                                  dcpl=ds.id.get_create_plist())
            tmp.write(h5py.h5s.ALL, h5py.h5s.ALL, block)
            _, raw = tmp.read_direct_chunk((0,) * len(chunk))
        ds.id.write_direct_chunk(info.chunk_offset, raw, 0)
    return key


def lr_digit(path: str) -> str:
    """Change one digit of lr inside the root optimizer JSON with a raw byte edit (format v1.1)."""
    with open(path, "r+b") as fh:
        data = fh.read()
        pos = data.index(b'"lr": 0.0006') + len(b'"lr": 0.000')
        fh.seek(pos)
        fh.write(b"7")
    return "metadata checksum"


def main() -> int:
    """Run all cases; print one line each; exit 1 on any unexpected outcome."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", help="work directory (default: a fresh temporary directory)")
    args = parser.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="ckpt-selftest-")
    os.makedirs(work, exist_ok=True)
    failures = 0

    def expect(name: str, ok: bool, detail: str = "") -> None:
        nonlocal failures
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
        failures += 0 if ok else 1

    good = os.path.join(work, "v1.h5")
    r = run("write", good, "--v1-storage", "--chunk-bytes", CHUNK_BYTES)
    expect("write --v1-storage", r.returncode == 0, r.stderr)
    r = run("check", good, "--chunk-bytes", CHUNK_BYTES)
    expect("check accepts a v1 file", r.returncode == 0 and r.stdout.strip().endswith(" 0 failed"), r.stdout[-2000:])

    cases: list[tuple[str, Callable[[str], str]]] = [
        ("flipped byte in a compressed chunk", flip_chunk_byte),
        ("wrong xxh3_64 attribute", wrong_hash),
        ("dtype attribute contradicts HDF5 type", wrong_dtype_attr),
        ("wrong tensor_count", wrong_tensor_count),
        ("edge chunk with non-zero padding", dirty_padding),
        ("one lr digit changed (metadata_xxh3_64)", lr_digit),
    ]
    for label, damage in cases:
        bad = os.path.join(work, f"bad-{damage.__name__}.h5")
        shutil.copyfile(good, bad)
        item = damage(bad)
        r = run("check", bad, "--chunk-bytes", CHUNK_BYTES)
        named = any(f": {item}:" in line for line in r.stdout.splitlines())
        expect(f"check rejects: {label}", r.returncode == 1 and named, r.stdout[-2000:] + r.stderr[-2000:])

    foreign = os.path.join(work, "foreign.h5")
    r = run("write", foreign)
    expect("write (foreign storage)", r.returncode == 0, r.stderr)
    with open(foreign + ".expected.json", encoding="utf-8") as fh:
        expected = json.load(fh)
    mismatches = []
    with cr.Checkpoint(foreign) as ck:
        ck.check_format()
        keys = {t.key for t in ck.tensors()}
        if keys != set(expected):
            mismatches.append("tensor set differs from expected.json")
        for key, want in expected.items():
            a = ck.read(key)
            if (f"{cr.xxh3_64(a):#018x}", list(a.shape), str(cr.logical_dtype_of(ck.dataset(key).id.get_type()))) != (
                    want["xxh3_64"], want["shape"], want["dtype"]):
                mismatches.append(key)
    expect("foreign file reads back as expected.json says", not mismatches, ", ".join(mismatches))
    r = run("check", foreign, "--chunk-bytes", CHUNK_BYTES)
    expect("check flags the foreign storage choices", r.returncode == 1 and "violates the chunk rule" in r.stdout)
    with h5py.File(foreign, "r") as f:
        status = cr.check_metadata_checksum(f)[0]
    expect("the h5py-written file carries a matching metadata checksum", status == "verified", status)

    keep = bool(args.dir) or bool(failures)
    print(f"{'all passed' if not failures else f'{failures} failed'}" + (f" (files in {work})" if keep else ""))
    if not keep:
        shutil.rmtree(work)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
