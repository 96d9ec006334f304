#!/usr/bin/env python3
"""Make the PyTorch agreement fixtures of ReferenceCore (Tests/ReferenceCoreTests/Fixtures/).

For each precision a tiny GPT-2 (2 layers, hidden 64, 4 heads, vocab 96, max_seq 32) is
initialised, trained for a few warm-up steps in PyTorch (so Adam state is non-trivial), then one
more step is taken on the fixture batch (B=2, T=16, two targets ignored):

  fp32/  before.h5 (step 3), batch.h5, after.h5 (step 4, loss and grad_norm in user_metadata),
         grads.h5 (PyTorch's gradients of the fixture step, before clipping, under /model)
         - fp32 forward/backward, torch.optim.AdamW (variant "torch"), decay "matrices",
           gelu_tanh, tied embeddings, clipping active.
  bf16/  before.h5, batch.h5, after.h5, grads_fp32.h5
         - bf16 parameters with fp32 masters; forward/backward under torch.autocast(bfloat16);
           AdamW variant "decoupled" on the masters (written out here), decay "all",
           exact gelu, untied head, clipping active.
         - grads_fp32.h5: the float32 (no autocast) loss and gradients of exactly the bf16
           parameters before.h5 stores, for batch.h5 (--exact-only rewrites just this file).

Everything is written in checkpoint format v1 (contiguous datasets, codec "none", dtype and
xxh3_64 attributes, root attributes). Needs torch (not used in CI): run it in its own venv,
  python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch numpy h5py hdf5plugin xxhash
  /tmp/venv-torch/bin/python tools/ref_make_fixture.py --out Tests/ReferenceCoreTests/Fixtures
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_h5  # noqa: E402

WARMUP_STEPS = 3


def model_config(activation: str, tied: bool) -> dict:
    return dict(family="gpt2", layers=2, hidden=64, heads=4, kv_heads=4, ffn=256, vocab=96, max_seq=32,
                norm_eps=1e-5, activation=activation, tie_embeddings=tied, norm="layernorm", position="learned",
                rope_theta=10000.0, bias=True)


def init_params(cfg: dict, seed: int) -> dict[str, torch.Tensor]:
    """GPT-2 style initialisation (small random biases so every bias gradient is exercised)."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in ref_h5.canonical_tensors(cfg):
        if name.endswith("norm.weight"):
            t = 1.0 + 0.05 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            t = 0.02 * torch.randn(shape, generator=g)
        else:
            t = 0.02 * torch.randn(shape, generator=g)
        params[name] = t.float()
    return params


def forward(P: dict[str, torch.Tensor], cfg: dict, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (ignore_index -1) of the canonical GPT-2."""
    B, T = inputs.shape
    C, H = cfg["hidden"], cfg["heads"]
    hd = C // H
    eps = cfg["norm_eps"]
    approx = "tanh" if cfg["activation"] == "gelu_tanh" else "none"
    x = P["embed.tokens.weight"][inputs] + P["embed.positions.weight"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        h = F.layer_norm(x, (C,), P[p + "attn_norm.weight"], P[p + "attn_norm.bias"], eps)
        q = F.linear(h, P[p + "attn.q.weight"], P[p + "attn.q.bias"]).view(B, T, H, hd).transpose(1, 2)
        k = F.linear(h, P[p + "attn.k.weight"], P[p + "attn.k.bias"]).view(B, T, H, hd).transpose(1, 2)
        v = F.linear(h, P[p + "attn.v.weight"], P[p + "attn.v.bias"]).view(B, T, H, hd).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s.float(), dim=-1).to(v.dtype) @ v
        a = a.transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(a, P[p + "attn.out.weight"], P[p + "attn.out.bias"])
        h = F.layer_norm(x, (C,), P[p + "mlp_norm.weight"], P[p + "mlp_norm.bias"], eps)
        u = F.gelu(F.linear(h, P[p + "mlp.up.weight"], P[p + "mlp.up.bias"]), approximate=approx)
        x = x + F.linear(u, P[p + "mlp.down.weight"], P[p + "mlp.down.bias"])
    x = F.layer_norm(x, (C,), P["final_norm.weight"], P["final_norm.bias"], eps)
    head = P["embed.tokens.weight"] if cfg["tie_embeddings"] else P["lm_head.weight"]
    logits = F.linear(x, head).float()
    return F.cross_entropy(logits.view(-1, cfg["vocab"]), targets.reshape(-1), ignore_index=-1)


def make_batch(cfg: dict, seed: int, ignored: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, cfg["vocab"], size=(2, 16)).astype(np.int32)
    targets = rng.integers(0, cfg["vocab"], size=(2, 16)).astype(np.int32)
    for i in ignored:
        targets.reshape(-1)[i] = -1
    return torch.from_numpy(inputs).long(), torch.from_numpy(targets).long()


def decays(opt: dict, shape: tuple[int, ...]) -> bool:
    return opt["decay"] == "all" or len(shape) >= 2


def global_norm(grads: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))


def clip_coefficient(opt: dict, norm: float) -> float:
    if opt["grad_clip"] <= 0:
        return 1.0
    c = opt["grad_clip"] / (norm + 1e-6)
    return c if c < 1 else 1.0


def write_checkpoint(path: str, cfg: dict, opt: dict, step: int, params: dict[str, np.ndarray], dtype: str,
                     exp_avg: dict[str, np.ndarray], exp_avg_sq: dict[str, np.ndarray],
                     masters: dict[str, np.ndarray] | None, user: dict | None) -> None:
    with h5py.File(path, "w") as f:
        for name, _ in ref_h5.canonical_tensors(cfg):
            ref_h5.write_tensor(f, name, params[name], dtype)
            ref_h5.write_tensor(f, "optimizer.exp_avg." + name, exp_avg[name], "float32")
            ref_h5.write_tensor(f, "optimizer.exp_avg_sq." + name, exp_avg_sq[name], "float32")
            if masters is not None:
                ref_h5.write_tensor(f, "optimizer.master." + name, masters[name], "float32")
        ref_h5.write_root(f, step, cfg, opt, user)


def np_dict(d: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().float().numpy().copy() for k, v in d.items()}


def make_fp32(out: str) -> None:
    """fp32 step with torch.optim.AdamW."""
    cfg = model_config("gelu_tanh", tied=True)
    opt_cfg = dict(variant="torch", lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, grad_clip=1.0,
                   decay="matrices")
    P = {k: v.clone().requires_grad_() for k, v in init_params(cfg, 1).items()}
    shapes = dict(ref_h5.canonical_tensors(cfg))
    decay = [P[n] for n in P if decays(opt_cfg, shapes[n])]
    no_decay = [P[n] for n in P if not decays(opt_cfg, shapes[n])]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": opt_cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"],
                            foreach=False, fused=False)

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float, dict[str, np.ndarray]]:
        opt.zero_grad(set_to_none=True)
        loss = forward(P, cfg, inputs, targets)
        loss.backward()
        grads = np_dict({n: p.grad for n, p in P.items()})
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), opt_cfg["grad_clip"], foreach=False)
        opt.step()
        return float(loss), float(norm), grads

    for s in range(WARMUP_STEPS):
        step(*make_batch(cfg, 100 + s))

    def state(key: str) -> dict[str, np.ndarray]:
        return {n: opt.state[p][key].detach().numpy().copy() for n, p in P.items()}

    assert all(int(opt.state[p]["step"]) == WARMUP_STEPS for p in P.values())
    before = (np_dict(P), state("exp_avg"), state("exp_avg_sq"))
    inputs, targets = make_batch(cfg, 7, ignored=(3, 20))
    loss, norm, grads = step(inputs, targets)
    assert norm > opt_cfg["grad_clip"], f"clipping must be active (norm {norm})"
    os.makedirs(out, exist_ok=True)
    write_checkpoint(os.path.join(out, "before.h5"), cfg, opt_cfg, WARMUP_STEPS, before[0], "float32", before[1], before[2], None, None)
    ref_h5.write_batch(os.path.join(out, "batch.h5"), inputs.numpy(), targets.numpy())
    write_checkpoint(os.path.join(out, "after.h5"), cfg, opt_cfg, WARMUP_STEPS + 1, np_dict(P), "float32",
                     state("exp_avg"), state("exp_avg_sq"), None, {"loss": loss, "grad_norm": norm})
    with h5py.File(os.path.join(out, "grads.h5"), "w") as f:
        for name, _ in ref_h5.canonical_tensors(cfg):
            ref_h5.write_tensor(f, name, grads[name], "float32")
        ref_h5.write_root(f, WARMUP_STEPS, cfg, opt_cfg, {"loss": loss, "grad_norm": norm,
                                                          "note": "PyTorch gradients of the fixture step, before clipping"})
    print(f"fp32: loss {loss:.9f}, grad norm {norm:.6f}, clip {clip_coefficient(opt_cfg, norm):.6f}")


def make_bf16(out: str) -> None:
    """bf16 mixed-precision step: autocast forward/backward, decoupled AdamW on fp32 masters."""
    cfg = model_config("gelu", tied=False)
    opt_cfg = dict(variant="decoupled", lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, grad_clip=1.0,
                   decay="all")
    shapes = dict(ref_h5.canonical_tensors(cfg))
    masters = init_params(cfg, 2)
    m = {n: torch.zeros_like(t) for n, t in masters.items()}
    v = {n: torch.zeros_like(t) for n, t in masters.items()}
    b1, b2, eps, lr, lam = opt_cfg["beta1"], opt_cfg["beta2"], opt_cfg["eps"], opt_cfg["lr"], opt_cfg["weight_decay"]

    def step(t: int, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
        """Step t+1 from state after t completed steps."""
        P = {n: w.to(torch.bfloat16).float().requires_grad_() for n, w in masters.items()}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = forward(P, cfg, inputs, targets)
        loss.backward()
        grads = {n: p.grad.float() for n, p in P.items()}
        norm = global_norm(grads)
        coef = clip_coefficient(opt_cfg, norm)
        bc1, bc2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
        with torch.no_grad():
            for n, w in masters.items():
                g = grads[n] * coef
                m[n].mul_(b1).add_(g, alpha=1 - b1)
                v[n].mul_(b2).addcmul_(g, g, value=1 - b2)
                wd = lam if decays(opt_cfg, shapes[n]) else 0.0
                upd = (m[n] / bc1) / ((v[n] / bc2).sqrt() + eps) + wd * w
                w.sub_(lr * upd)
        return float(loss), norm

    for s in range(WARMUP_STEPS):
        step(s, *make_batch(cfg, 200 + s))
    before = (np_dict(masters), np_dict(m), np_dict(v))
    inputs, targets = make_batch(cfg, 8, ignored=(0, 17))
    loss, norm = step(WARMUP_STEPS, inputs, targets)
    assert norm > opt_cfg["grad_clip"], f"clipping must be active (norm {norm})"
    os.makedirs(out, exist_ok=True)
    write_checkpoint(os.path.join(out, "before.h5"), cfg, opt_cfg, WARMUP_STEPS, before[0], "bfloat16", before[1],
                     before[2], before[0], None)
    ref_h5.write_batch(os.path.join(out, "batch.h5"), inputs.numpy(), targets.numpy())
    after_masters = np_dict(masters)
    write_checkpoint(os.path.join(out, "after.h5"), cfg, opt_cfg, WARMUP_STEPS + 1, after_masters, "bfloat16", np_dict(m),
                     np_dict(v), after_masters, {"loss": loss, "grad_norm": norm})
    print(f"bf16: loss {loss:.9f}, grad norm {norm:.6f}, clip {clip_coefficient(opt_cfg, norm):.6f}")


def make_exact(out: str) -> None:
    """bf16/grads_fp32.h5: the loss and gradients PyTorch computes in float32 (no autocast) on
    exactly the bf16 parameters out/before.h5 stores, for out/batch.h5 — the computation of a
    float32 reference core, so it is compared at the fp32 limits."""
    with h5py.File(os.path.join(out, "before.h5"), "r") as f:
        cfg = json.loads(ref_h5.attr_str(f, "model_config"))
        opt_cfg = json.loads(ref_h5.attr_str(f, "optimizer"))
        P = {}
        for n, _ in ref_h5.canonical_tensors(cfg):
            assert ref_h5.dtype_of(f, n) == "bfloat16", f"{n} stored as {ref_h5.dtype_of(f, n)}"
            P[n] = torch.from_numpy(ref_h5.read_tensor(f, n).astype(np.float32)).requires_grad_()
    with h5py.File(os.path.join(out, "batch.h5"), "r") as f:
        inputs = torch.from_numpy(f["inputs"][()].astype(np.int64))
        targets = torch.from_numpy(f["targets"][()].astype(np.int64))
    loss = forward(P, cfg, inputs, targets)
    loss.backward()
    grads = {n: p.grad.float() for n, p in P.items()}
    norm = global_norm(grads)
    with h5py.File(os.path.join(out, "grads_fp32.h5"), "w") as f:
        for n, _ in ref_h5.canonical_tensors(cfg):
            ref_h5.write_tensor(f, n, grads[n].numpy(), "float32")
        ref_h5.write_root(f, WARMUP_STEPS, cfg, opt_cfg, {
            "loss": float(loss.detach()), "grad_norm": norm,
            "note": "PyTorch float32 gradients (no autocast) of the stored bf16 parameters, before clipping"})
    print(f"bf16 float32 compute: loss {float(loss.detach()):.9f}, grad norm {norm:.6f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Tests/ReferenceCoreTests/Fixtures", help="fixture directory")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps results reproducible)")
    ap.add_argument("--exact-only", action="store_true", help="only (re)write bf16/grads_fp32.h5 of the existing fixture")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.exact_only:
        make_fp32(os.path.join(args.out, "fp32"))
        make_bf16(os.path.join(args.out, "bf16"))
    make_exact(os.path.join(args.out, "bf16"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
