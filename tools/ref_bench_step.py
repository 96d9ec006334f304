#!/usr/bin/env python3
"""Side-by-side timing of one training step: `ckpt step` (ReferenceCore) against PyTorch CPU on
the same model, batch and thread count, with the matmul bound measured in the same run.

  ref_bench_step.py [--ckpt .build/release/ckpt] [--family gpt2] [--preset 124m] [--batch 4]
                    [--seq 64] [--threads 2] [--workdir /tmp/ref-bench] [--repeat 3]
                    [--layers N] [--hidden N] [--vocab N]

  # the LLaMA-style ~1B step of issue 12 (llama preset 1b: 852M parameters, GQA 32/8 heads):
  ref_bench_step.py --family llama --preset 1b --batch 1 --seq 256 --threads $(nproc)

Writes a synthetic checkpoint of the family with Adam state (`ckpt synth`, the preset with the
given overrides), a random batch, runs `ckpt step --json` (phases: load, forward+backward, AdamW
passes, update+write) and PyTorch's forward+backward+clip+AdamW on the same weights (best of
--repeat): for gpt2 a hand-written functional model (ref_make_fixture.forward), for llama and
neox transformers' LlamaForCausalLM / GPTNeoXForCausalLM (sdpa attention) loaded with the
checkpoint's tensors through the canonical <-> HF mapping of ref_make_family_fixtures.py, with
torch.optim.AdamW. It measures the fp32 sgemm rate with torch.mm at the same thread count before
and after the steps and prints one table. The matmul bound is 6 x parameters x tokens FLOPs at
the higher of the two rates (a rate measured while the machine was briefly busy would make the
bound look easier); for an untied head the token table is only looked up, so the table also
gives the bound without it. Needs torch, and transformers for llama/neox (/work/venv; not used
in CI).

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

FAMILIES = ("gpt2", "llama", "neox")


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


def torch_model(family: str, cfg: dict, weights: dict[str, torch.Tensor]):
    """(parameters, loss function) of the PyTorch model of `family` holding `weights`."""
    if family == "gpt2":
        P = {n: w.clone().requires_grad_() for n, w in weights.items()}
        return list(P.values()), lambda inp, tgt: forward(P, cfg, inp, tgt)
    import ref_make_family_fixtures as fam  # transformers' models and the canonical <-> HF names
    model = fam.hf_model(cfg)
    model.config._attn_implementation = "sdpa"
    fam.load_canonical(model, cfg, weights)
    return list(model.parameters()), lambda inp, tgt: fam.loss_of(model, cfg, inp, tgt)


def torch_step(family: str, before: str, inputs: np.ndarray, targets: np.ndarray, threads: int, repeat: int) -> tuple[float, float]:
    torch.set_num_threads(threads)
    with h5py.File(before, "r") as f:
        cfg = json.loads(ref_h5.attr_str(f, "model_config"))
        opt_cfg = json.loads(ref_h5.attr_str(f, "optimizer"))
    names = [n for n, _ in ref_h5.canonical_tensors(cfg)]
    inp, tgt = torch.from_numpy(inputs).long(), torch.from_numpy(targets).long()
    best, loss = float("inf"), 0.0
    for _ in range(repeat):
        # Read afresh for every repeat and dropped once the model holds them: a 1B model's fp32
        # weights, model, gradients and Adam moments would not fit next to a kept copy.
        with h5py.File(before, "r") as f:
            weights = {n: torch.from_numpy(ref_h5.read_tensor(f, n)) for n in names}
        params, loss_fn = torch_model(family, cfg, weights)
        del weights
        decay = [p for p in params if opt_cfg["decay"] == "all" or p.dim() >= 2]
        rest = [p for p in params if not (opt_cfg["decay"] == "all" or p.dim() >= 2)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": opt_cfg["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
                                lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"])
        t = time.perf_counter()
        out = loss_fn(inp, tgt)
        out.backward()
        if opt_cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, opt_cfg["grad_clip"])
        opt.step()
        best = min(best, time.perf_counter() - t)
        loss = float(out.detach())
        del params, loss_fn, opt, out
    return best, loss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=".build/release/ckpt")
    ap.add_argument("--family", default="gpt2", choices=FAMILIES)
    ap.add_argument("--preset", default=None, help="preset of the family (default: 124m for gpt2, 1b for llama, 160m for neox)")
    ap.add_argument("--layers", type=int, help="override: transformer blocks")
    ap.add_argument("--hidden", type=int, help="override: hidden size")
    ap.add_argument("--vocab", type=int, help="override: vocabulary")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/ref-bench")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    preset = args.preset or {"gpt2": "124m", "llama": "1b", "neox": "160m"}[args.family]
    overrides = [(flag, v) for flag, v in (("--layers", args.layers), ("--hidden", args.hidden), ("--vocab", args.vocab)) if v]
    tag = "-".join([args.family, preset] + [f"{f[2:]}{v}" for f, v in overrides])
    before = os.path.join(args.workdir, f"before-{tag}.h5")
    if not os.path.exists(before):
        synth = [args.ckpt, "synth", "--family", args.family, "--preset", preset, "--optimizer", "adamw", "--step", "10",
                 "--codec", "none", "--out", before]
        for flag, v in overrides:
            synth += [flag, str(v)]
        subprocess.run(synth, check=True, stdout=subprocess.DEVNULL)
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
                              "--codec", "none", "--force", "--json"], check=True, capture_output=True, text=True, env=env)
        runs.append(json.loads(out.stdout))
    ours = min(runs, key=lambda r: r["compute_seconds"] + r["optimizer_seconds"])
    torch_s, torch_loss = torch_step(args.family, before, inputs, targets, args.threads, args.repeat)
    rate = max(rate_before, sgemm_rate(args.threads))
    shapes = dict(ref_h5.canonical_tensors(cfg))
    params = sum(int(np.prod(s)) for s in shapes.values())
    bound = 6 * params * args.batch * args.seq / rate
    # Tables only looked up, never multiplied: the learned positions, and the token table of
    # an untied head.
    lookup = int(np.prod(shapes.get("embed.positions.weight", (0,))))
    if not cfg["tie_embeddings"]:
        lookup += int(np.prod(shapes["embed.tokens.weight"]))
    core = ours["compute_seconds"] + ours["optimizer_seconds"]
    name = {"gpt2": "GPT-2", "llama": "LLaMA", "neox": "GPT-NeoX"}[args.family]
    print(f"{name} {tag} ({params / 1e6:.1f}M parameters), B={args.batch}, T={args.seq}, {args.threads} threads; "
          f"sgemm {rate / 1e9:.0f} GFLOP/s, matmul bound {bound:.2f} s "
          f"({6 * (params - lookup) * args.batch * args.seq / rate:.2f} s without the {lookup / 1e6:.1f}M looked-up parameters)")
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
