#!/usr/bin/env python3
"""Check that torch loads a DCP checkpoint directory written by ckpt (venv python; not CI).

    /work/venv/bin/python tools/dcp_check.py DIR --expected Tests/Fixtures/interop/dcp-state-dict/expected.json

Three independent loads, single process (no_dist=True):
  1. torch.distributed.checkpoint.load into a state dict of zero tensors of the expected dtypes
     and shapes (the resharding read of torch's DefaultLoadPlanner), plus the bytes items;
  2. the same into DTensor-free row-split targets: each tensor loaded in two halves through
     narrow views is not possible without a process group, so instead every tensor is loaded a
     second time into a fresh state dict of a different (transposed-contiguity) target to make
     sure torch copies by chunk offsets, not by file order;
  3. dcp_to_torch_save (the _EmptyStateDictLoadPlanner, which uses planner_data) into a
     temporary .pt, reloaded with torch.load(weights_only=True).
Every tensor's XXH3-64 must equal expected.json's; bytes items must equal their recorded value.
Exit 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.distributed.checkpoint as dcp  # noqa: E402
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save  # noqa: E402

import interop_hash  # noqa: E402


def load(sd: dict, path: str) -> None:
    """dcp.load in one process (torch 2.4's load has no `no_dist`: without an initialised
    process group it runs without collectives anyway)."""
    import inspect

    if "no_dist" in inspect.signature(dcp.load).parameters:
        dcp.load(sd, checkpoint_id=path, no_dist=True)
    else:
        dcp.load(sd, storage_reader=dcp.FileSystemReader(path))


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts (torch's planner_data unflattens `extra.lr` into {"extra": {"lr"}}) back to
    dotted keys."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--expected", required=True)
    a = ap.parse_args()
    exp = json.load(open(a.expected))
    failures: list[str] = []

    md = dcp.FileSystemReader(a.dir).read_metadata()
    names = set(md.state_dict_metadata)
    want = set(exp["tensors"]) | set(exp.get("bytes_items", {}))
    if not want <= names:
        failures.append(f"metadata lacks {sorted(want - names)}")

    def check(label: str, sd: dict) -> None:
        for k, rec in exp["tensors"].items():
            got = interop_hash.record(sd[k])
            if got != {"dtype": rec["dtype"], "shape": rec["shape"], "xxh3_64": rec["xxh3_64"]}:
                failures.append(f"{label}: {k}: {got} != {rec}")
        for k, rec in exp.get("bytes_items", {}).items():
            if repr(sd[k]) != rec["value"]:
                failures.append(f"{label}: bytes item {k}: {sd[k]!r} != {rec['value']}")

    # 1. load into zero tensors.
    sd = {k: torch.zeros(r["shape"], dtype=getattr(torch, r["dtype"])) for k, r in exp["tensors"].items()}
    for k in exp.get("bytes_items", {}):
        sd[k] = None
    load(sd, a.dir)
    check("dcp.load", sd)

    # 2. into non-contiguous targets (column-major views): torch copies by chunk offsets.
    sd2 = {}
    for k, r in exp["tensors"].items():
        t = torch.full(list(reversed(r["shape"])), 7, dtype=getattr(torch, r["dtype"]))
        sd2[k] = t.permute(*reversed(range(t.dim()))) if t.dim() > 1 else t
    for k in exp.get("bytes_items", {}):
        sd2[k] = None
    load(sd2, a.dir)
    check("dcp.load (strided targets)", sd2)

    # 3. dcp_to_torch_save: planner_data and every item through torch's own unflattening.
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "all.pt")
        dcp_to_torch_save(a.dir, pt)
        check("dcp_to_torch_save", flatten(torch.load(pt, weights_only=True)))

    for f in failures:
        print("FAIL", f)
    n = len(exp["tensors"]) + len(exp.get("bytes_items", {}))
    print(f"{a.dir}: {n} entries x 3 loads, {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
