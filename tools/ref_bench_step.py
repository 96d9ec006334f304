#!/usr/bin/env python3
"""Side-by-side timing of one training step: `ckpt step` (ReferenceCore) against PyTorch CPU on
the same model, batch and thread count, with the matmul bound measured in the same run.

  ref_bench_step.py [--ckpt .build/release/ckpt] [--preset 124m] [--batch 4] [--seq 64]
                    [--threads 2] [--workdir /tmp/ref-bench] [--repeat 3]

Writes a synthetic GPT-2 checkpoint with Adam state (`ckpt synth`), a random batch, runs
`ckpt step --json` (phases: load, forward+backward, AdamW passes, update+write) and PyTorch's
forward+backward+clip+AdamW on the same weights (best of --repeat), measures the fp32 sgemm
rate with torch.mm at the same thread count before and after the steps, and prints one table.
The matmul bound is 6 x parameters x tokens FLOPs at the higher of the two rates (a rate
measured while the machine was briefly busy would make the bound look easier). Needs torch (its
own venv; not used in CI).

ckpt's reference core always uses every core (it splits large products into one single-threaded
OpenBLAS call per core itself), so --threads should equal the machine's core count (the default
is 2, the reference machine's) for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_h5  # noqa: E402
from ref_make_fixture import forward  # noqa: E402


def sgemm_rate(threads: int) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * 2048**3 / best


def torch_step(before: str, inputs: np.ndarray, targets: np.ndarray, threads: int, repeat: int) -> tuple[float, float]:
    torch.set_num_threads(threads)
    with h5py.File(before, "r") as f:
        cfg = json.loads(ref_h5.attr_str(f, "model_config"))
        opt_cfg = json.loads(ref_h5.attr_str(f, "optimizer"))
        names = [n for n, _ in ref_h5.canonical_tensors(cfg)]
        weights = {n: torch.from_numpy(ref_h5.read_tensor(f, n)) for n in names}
    inp, tgt = torch.from_numpy(inputs).long(), torch.from_numpy(targets).long()
    best, loss = float("inf"), 0.0
    for _ in range(repeat):
        P = {n: w.clone().requires_grad_() for n, w in weights.items()}
        decay = [p for p in P.values() if opt_cfg["decay"] == "all" or p.dim() >= 2]
        rest = [p for p in P.values() if not (opt_cfg["decay"] == "all" or p.dim() >= 2)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": opt_cfg["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
                                lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"])
        t = time.perf_counter()
        out = forward(P, cfg, inp, tgt)
        out.backward()
        if opt_cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(list(P.values()), opt_cfg["grad_clip"])
        opt.step()
        best = min(best, time.perf_counter() - t)
        loss = float(out.detach())
    return best, loss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=".build/release/ckpt")
    ap.add_argument("--preset", default="124m")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/ref-bench")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    before = os.path.join(args.workdir, f"before-{args.preset}.h5")
    if not os.path.exists(before):
        subprocess.run([args.ckpt, "synth", "--preset", args.preset, "--optimizer", "adamw", "--step", "10", "--codec", "none",
                        "--out", before], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(before, "r") as f:
        cfg = json.loads(ref_h5.attr_str(f, "model_config"))
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, cfg["vocab"], (args.batch, args.seq)).astype(np.int32)
    targets = rng.integers(0, cfg["vocab"], (args.batch, args.seq)).astype(np.int32)
    batch = os.path.join(args.workdir, "batch.h5")
    ref_h5.write_batch(batch, inputs, targets)

    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    rate_before = sgemm_rate(args.threads)
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([args.ckpt, "step", "--before", before, "--batch", batch, "--out", os.path.join(args.workdir, "after.h5"),
                              "--codec", "none", "--json"], check=True, capture_output=True, text=True, env=env)
        runs.append(json.loads(out.stdout))
    ours = min(runs, key=lambda r: r["compute_seconds"] + r["optimizer_seconds"])
    torch_s, torch_loss = torch_step(before, inputs, targets, args.threads, args.repeat)
    rate = max(rate_before, sgemm_rate(args.threads))
    params = sum(int(np.prod(s)) for _, s in ref_h5.canonical_tensors(cfg))
    bound = 6 * params * args.batch * args.seq / rate
    core = ours["compute_seconds"] + ours["optimizer_seconds"]
    print(f"GPT-2 {args.preset} ({params / 1e6:.1f}M parameters), B={args.batch}, T={args.seq}, {args.threads} threads; "
          f"sgemm {rate / 1e9:.0f} GFLOP/s, matmul bound {bound:.2f} s")
    print(f"{'':34}{'seconds':>9}{'x bound':>9}{'x torch':>9}")
    rows = [("ckpt forward+backward", ours["compute_seconds"]), ("ckpt AdamW passes", ours["optimizer_seconds"]),
            ("ckpt fwd+bwd+AdamW", core), ("PyTorch fwd+bwd+clip+AdamW", torch_s),
            ("ckpt step total (with file I/O)", ours["seconds"])]
    for label, s in rows:
        print(f"{label:34}{s:9.2f}{s / bound:9.2f}{s / torch_s:9.2f}")
    print(f"loss: ckpt {ours['loss']:.6f}, PyTorch {torch_loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
