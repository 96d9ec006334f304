#!/usr/bin/env python3
"""Issue 13's measurement: `ckpt verify-step` of a model in memory against the pipelined step in
bounded memory, in the same run, wall time and peak RSS from /usr/bin/time -v.

  bench_verify_stream.py [--ckpt .build/release/ckpt] [--preset 1.3b] [--dir /work/bench-stream]
                         [--batch 1] [--seq 128] [--budget 2GiB]
                         [--modes in-memory,spill,two-pass] [--keep] [--drop-caches]

Writes a GPT-2-family checkpoint of the preset with Adam state (fp32 parameters, no masters;
`ckpt synth --optimizer adamw`), a random batch, and the after-checkpoint with `ckpt step`
(default budget: pipelined when the model does not fit in 60% of RAM), then times `verify-step`:
  in-memory   the default budget (60% of RAM) when the model fits in it
  spill       --memory-budget BUDGET --clipping spill
  two-pass    --memory-budget BUDGET --clipping two-pass
  spill-1     --resident-blocks 1 --clipping spill (one block per stage whatever the budget: the
              peak then depends on the layer width only, not on the layer count)
  two-pass-1  --resident-blocks 1 --clipping two-pass
Each verification must pass and report the same loss and gradient norm as the others. Prints one
table row per mode: seconds, peak RSS (time -v), the plan and the ratio to in-memory. Needs
h5py and numpy (for the batch); not used in CI. GPT-3 2.7B (`--preset 2.7b`) needs ~60 GB of
disk for A and B and a ~11 GB spill in $TMPDIR.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_h5  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS bytes, stdout)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    secs = time.monotonic() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    if p.returncode not in (0, 1) or not m:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return secs, int(m.group(1)) * 1024, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=".build/release/ckpt")
    ap.add_argument("--preset", default="1.3b")
    ap.add_argument("--dir", default="/work/bench-stream")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--budget", default="2GiB")
    ap.add_argument("--modes", default="in-memory,spill,two-pass")
    ap.add_argument("--keep", action="store_true", help="reuse A, B and the batch when present")
    ap.add_argument("--drop-caches", action="store_true", help="drop the page cache before each verification (root)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    a, b, batch = (os.path.join(args.dir, f) for f in (f"A-{args.preset}.h5", f"B-{args.preset}.h5", "batch.h5"))

    if not (args.keep and os.path.exists(a)):
        secs, rss, _ = timed([args.ckpt, "synth", "--preset", args.preset, "--optimizer", "adamw", "--out", a, "--force"])
        print(f"synth {args.preset}: {secs:.1f} s, peak RSS {rss / 2**30:.2f} GiB, {os.path.getsize(a) / 1e9:.2f} GB", flush=True)
    cfg = json.loads(subprocess.run([args.ckpt, "info", a, "--json"], capture_output=True, text=True, check=True).stdout)["model_config"]
    if not (args.keep and os.path.exists(batch)):
        rng = np.random.default_rng(7)
        shape = (args.batch, args.seq)
        ref_h5.write_batch(batch, rng.integers(0, cfg["vocab"], shape).astype(np.int32), rng.integers(0, cfg["vocab"], shape).astype(np.int32))
    if not (args.keep and os.path.exists(b)):
        secs, rss, out = timed([args.ckpt, "step", "--before", a, "--batch", batch, "--out", b, "--force", "--json"])
        plan = json.loads(out).get("plan", {})
        print(f"step: {secs:.1f} s, peak RSS {rss / 2**30:.2f} GiB, plan {plan}", flush=True)

    flags = {
        "in-memory": [],
        "spill": ["--memory-budget", args.budget, "--clipping", "spill"],
        "two-pass": ["--memory-budget", args.budget, "--clipping", "two-pass"],
        "spill-1": ["--resident-blocks", "1", "--clipping", "spill"],
        "two-pass-1": ["--resident-blocks", "1", "--clipping", "two-pass"],
    }
    rows, figures = [], set()
    for mode in args.modes.split(","):
        subprocess.run(["sync"])
        if args.drop_caches:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        secs, rss, out = timed([args.ckpt, "verify-step", "--before", a, "--after", b, "--batch", batch, "--json"] + flags[mode])
        d = json.loads(out)
        if d.get("verdict") not in ("pass", "ok") and d.get("passed") is not True:
            sys.exit(f"{mode}: verification did not pass: {out[:2000]}")
        figures.add((d["reference_loss"], d["grad_norm"], d["clip_coefficient"]))
        rows.append((mode, secs, rss, d.get("plan", {})))
        print(f"{mode}: {secs:.1f} s, peak RSS {rss / 2**30:.2f} GiB, plan {d.get('plan')}", flush=True)
    if len(figures) != 1:
        sys.exit(f"the modes disagree: {figures}")
    base = next((s for m, s, _, _ in rows if m == "in-memory"), None)
    print(f"\n{args.preset} {cfg['layers']} layers, hidden {cfg['hidden']}, B={args.batch} T={args.seq}; loss, norm, clip = {figures.pop()}")
    print("| mode | seconds | peak RSS GiB | plan | x in-memory |")
    print("|---|---|---|---|---|")
    for mode, secs, rss, plan in rows:
        ratio = f"{secs / base:.2f}" if base else "-"
        desc = f"{plan.get('mode')}, {plan.get('stages')} stages of {plan.get('resident_blocks')}"
        print(f"| {mode} | {secs:.1f} | {rss / 2**30:.2f} | {desc} | {ratio} |")


if __name__ == "__main__":
    main()
