#!/usr/bin/env python3
"""Execute the ```python snippets of a formats/*.md document against a small checkpoint.

Creates, in a temporary directory, ``model.h5`` (written by ``crosscheck.py write --v1-storage
--canonical-only``: a tiny GPT-2 whose ``layers.0.attn.q.weight`` is bfloat16), runs every python
code block of the document in order in one namespace, then checks the bfloat16 helpers the
document defines (``read_bf16``, ``read_bf16_rows``) against h5py's own (slow, converting) read.

    python3 tools/check_doc_snippets.py formats/bfloat16.md
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crosscheck  # noqa: E402


def main() -> int:
    """Run the snippets; exit 1 if one raises or a helper disagrees with h5py."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("doc", help="markdown file whose ```python blocks are executed")
    args = parser.parse_args()
    with open(args.doc, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="ckpt-doc-") as work:
        os.chdir(work)
        try:
            return run_blocks(blocks, args.doc)
        finally:
            os.chdir(home)


def run_blocks(blocks: list[str], doc: str) -> int:
    """Executes the blocks in the current (temporary) directory against a sample model.h5."""
    crosscheck.write_file("model.h5", seed=1, v1=True, canonical_only=True, chunk_bytes=3000)
    ns: dict[str, object] = {"__name__": "doc_snippets"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{doc}:block{i}", "exec"), ns)  # noqa: S102  (trusted repo docs)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL block {i}: {type(e).__name__}: {e}")
            return 1
        print(f"ok   block {i}")
    if "read_bf16" in ns:
        import h5py
        import hdf5plugin  # noqa: F401
        with h5py.File("model.h5") as f:
            ds = f["model/layers/0/attn/q/weight"]
            t0 = time.perf_counter()
            slow = ds[...]
            t1 = time.perf_counter()
            fast = ns["read_bf16"](ds)
            t2 = time.perf_counter()
            if slow.dtype != np.float32 or not np.array_equal(fast.astype(np.float32), slow):
                print("FAIL read_bf16 differs from h5py's float32 read")
                return 1
            print(f"ok   read_bf16 == h5py float32 read ({(t1 - t0) / max(t2 - t1, 1e-9):.0f}x faster here)")
            if "read_bf16_rows" in ns:
                rows = ns["read_bf16_rows"](ds, 5, 17)
                if not np.array_equal(rows.astype(np.float32), slow[5:17]):
                    print("FAIL read_bf16_rows differs from the slice")
                    return 1
                print("ok   read_bf16_rows == slice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
