#!/usr/bin/env python3
"""Seeds corpus/dcp-metadata (venv python with torch and zstandard; not CI).

    /work/venv/bin/python tools/fuzz/make_dcp_corpus.py

Entries: the `.metadata` of the committed DCP fixtures (Tests/Fixtures/interop/dcp-*), the same
pickles with one hostile change each (overlapping, gappy and out-of-bounds chunks, an offset
past the end, a path leaving the directory, an unknown transform, an os.system global), and
whole one-file checkpoints written by torch (`DCP1` + u32 metadata length + .metadata +
__0_0.distcp: plain, zstd, scalar and 3-D tensors, bytes items).
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import struct
import sys
import tempfile

import torch
import torch.distributed.checkpoint as dcp

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "interop")
OUT = os.path.join(HERE, "corpus", "dcp-metadata")


def one_file(sd: dict, zstd: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        kw = {}
        if zstd:
            from torch.distributed.checkpoint._extension import ZStandard

            kw["_extensions"] = [ZStandard()]
        dcp.save(sd, storage_writer=dcp.FileSystemWriter(d, **kw), no_dist=True)
        md = open(os.path.join(d, ".metadata"), "rb").read()
        data = open(os.path.join(d, "__0_0.distcp"), "rb").read()
    return b"DCP1" + struct.pack("<I", len(md)) + md + data


def hostile(md) -> dict[str, bytes]:
    out = {}
    tensors = [k for k, v in md.state_dict_metadata.items() if type(v).__name__ == "TensorStorageMetadata"]
    big = max(tensors, key=lambda k: len(md.state_dict_metadata[k].chunks))

    def variant(name, f):
        m = copy.deepcopy(md)
        f(m)
        out[name] = pickle.dumps(m, protocol=2)

    def overlap(m):
        c = m.state_dict_metadata[big].chunks[-1]
        old = next(i for i in m.storage_data if i.fqn == big and tuple(i.offset) == tuple(c.offsets))
        info = m.storage_data.pop(old)
        c.offsets = torch.Size([c.offsets[0] - 1] + list(c.offsets[1:]))
        m.storage_data[type(old)(big, c.offsets)] = info

    def gap(m):
        c = m.state_dict_metadata[big].chunks[-1]
        c.sizes = torch.Size([c.sizes[0] - 1] + list(c.sizes[1:]))

    def outside(m):
        m.state_dict_metadata[big].size = torch.Size([1] * len(m.state_dict_metadata[big].size))

    def past_end(m):
        for info in m.storage_data.values():
            info.offset += 1 << 40

    def escape(m):
        for info in m.storage_data.values():
            info.relative_path = "../" + info.relative_path

    def transform(m):
        for info in m.storage_data.values():
            info.transform_descriptors = ["stream.aes/1"]

    for n, f in [("overlap", overlap), ("gap", gap), ("outside", outside), ("past-end", past_end),
                 ("escape", escape), ("transform", transform)]:
        variant(n, f)
    out["os-system"] = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x85R."
    return out


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    entries: dict[str, bytes] = {}
    for name in ["dcp-state-dict", "dcp-zstd", "dcp-mcore-metadata"]:
        p = os.path.join(FIXTURES, name, ".metadata")
        entries[name] = open(p, "rb").read()
    md = dcp.FileSystemReader(os.path.join(FIXTURES, "dcp-state-dict")).read_metadata()
    for k, v in hostile(md).items():
        entries["hostile-" + k] = v
    g = torch.Generator().manual_seed(5)
    small = {"w": torch.randn(3, 4, generator=g), "b": torch.arange(5, dtype=torch.int64),
             "cube": torch.randn(2, 3, 2, generator=g).to(torch.bfloat16), "s": torch.tensor(1.5),
             "step": 3, "meta": {"lr": 0.1, "name": "x"}}
    entries["file-plain"] = one_file(small, False)
    entries["file-zstd"] = one_file(small, True)
    entries["file-empty"] = one_file({"e": torch.zeros(0, 4), "n": 1}, False)
    for name, b in entries.items():
        assert len(b) <= 65536, (name, len(b))
        with open(os.path.join(OUT, hashlib.sha1(b).hexdigest()), "wb") as f:
            f.write(b)
    print(f"{len(entries)} entries in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
