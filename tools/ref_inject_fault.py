#!/usr/bin/env python3
"""Inject a known fault into the after-checkpoint of a training step, for testing
`ckpt verify-step` (ReferenceCore.StepVerifier).

  ref_inject_fault.py --fault KIND --before A --after B --out F [options]

writes F = B with the fault; A is only read. Tensors touched are rewritten with fresh dtype,
xxh3_64 and codec attributes, and a format v1.1 file gets a fresh metadata_xxh3_64 (a silent
corruption, not a checksum error). Where the checkpoint keeps fp32 masters the fault is applied
to the master and the bf16 parameter re-rounded, except for the bit flip, which hits the stored
parameter itself.

Faults:
  bitflip     one bit (default: the most significant exponent bit) of one element of one
              parameter (--tensor, --index, --bit)
  lr          the step taken with the learning rate x --factor (default 1.1):
              θ_F = θ_A + factor·(θ_B − θ_A) for every parameter (AdamW's update is linear in lr)
  no-decay    weight decay skipped: θ_F = θ_B + lr·λ·θ_A on every decayed tensor
  swap-heads  two attention heads (--heads H1,H2) swapped in one layer's q weight (--layer)
  stale-v     exp_avg_sq of one tensor (--tensor) left at its step-t value
  stale-shard one rank of a megatron checkpoint saved stale: its tensors are the
              before-checkpoint's, its metadata the after-checkpoint's (A, B, F are
              directories; --tp-rank, --pp-rank pick the rank)
  no-clip     gradient clipping skipped: the clipped gradient is recovered from the moments,
              g = (m_B − β₁·m_A)/(1 − β₁), unscaled by the clip coefficient (from B's
              user_metadata grad_norm or --grad-norm), and the AdamW step redone from A

Exit status 0 on success, 2 on bad arguments or files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt_reader  # noqa: E402
import ref_h5  # noqa: E402

FAULTS = ("bitflip", "lr", "no-decay", "swap-heads", "stale-v", "stale-shard", "no-clip")


def params(f: h5py.File) -> list[str]:
    cfg = json.loads(ref_h5.attr_str(f, "model_config"))
    return [n for n, _ in ref_h5.canonical_tensors(cfg)]


def theta_key(f: h5py.File, name: str) -> str:
    """The key the update lives on: the fp32 master if present, else the parameter."""
    return "optimizer.master." + name if ref_h5.has(f, "optimizer.master." + name) else name


def set_theta(f: h5py.File, name: str, theta: np.ndarray) -> None:
    """Stores a new θ: the master (and the parameter rounded to its dtype) or the parameter."""
    dtype = ref_h5.dtype_of(f, name)
    if ref_h5.has(f, "optimizer.master." + name):
        ref_h5.write_tensor(f, "optimizer.master." + name, theta.astype(np.float32), "float32")
    ref_h5.write_tensor(f, name, theta.astype(np.float32), dtype)


def flip_bit(f: h5py.File, name: str, index: int, bit: int | None) -> None:
    dtype = ref_h5.dtype_of(f, name)
    x = ref_h5.read_tensor(f, name).reshape(-1).copy()
    if dtype == "bfloat16":
        bits = ref_h5.to_bf16_bits(x)
        bits[index] ^= np.uint16(1 << (14 if bit is None else bit))
        x = ref_h5.from_bf16_bits(bits)
    elif dtype == "float32":
        u = x.view(np.uint32)
        u[index] ^= np.uint32(1 << (30 if bit is None else bit))
    else:
        raise SystemExit(f"bitflip: {name} is {dtype}; float32 and bfloat16 are supported")
    shape = f[ref_h5.key_path(name)].shape
    ref_h5.write_tensor(f, name, x.reshape(shape), dtype)


def adam(opt: dict, step: int, theta: np.ndarray, m: np.ndarray, v: np.ndarray, g: np.ndarray, decay: bool
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """formats/optimizer.md, in float32 element arithmetic."""
    f32 = np.float32
    b1, b2, eps, lr = opt["beta1"], opt["beta2"], opt["eps"], opt["lr"]
    wd = opt["weight_decay"] if decay else 0.0
    bc1, bc2 = 1 - b1 ** (step + 1), 1 - b2 ** (step + 1)
    m = (m + (g - m) * f32(1 - b1)).astype(f32) if opt["variant"] == "torch" else (f32(b1) * m + f32(1 - b1) * g).astype(f32)
    v = (f32(b2) * v + f32(1 - b2) * g * g).astype(f32)
    if opt["variant"] == "torch":
        th = theta * f32(1 - lr * wd)
        th = th - f32(lr / bc1) * (m / (np.sqrt(v) / f32(np.sqrt(bc2)) + f32(eps)))
    else:
        th = theta - f32(lr) * ((m * f32(1 / bc1)) / (np.sqrt(v * f32(1 / bc2)) + f32(eps)) + f32(wd) * theta)
    return th.astype(f32), m, v


def rank_file(directory: str, tp: int, pp: int) -> str:
    """The rank file of (tp, pp) in a megatron checkpoint directory (its root, with
    latest_checkpointed_iteration.txt, or an iter_* directory)."""
    it = directory
    latest = os.path.join(directory, "latest_checkpointed_iteration.txt")
    if os.path.exists(latest):
        with open(latest) as fh:
            it = os.path.join(directory, f"iter_{int(fh.read().strip()):07d}")
    for name in (f"mp_rank_{tp:02d}_{pp:03d}", f"mp_rank_{tp:02d}"):
        for fname in sorted(os.listdir(os.path.join(it, name))) if os.path.isdir(os.path.join(it, name)) else []:
            if fname.endswith(".h5"):
                return os.path.join(it, name, fname)
    raise SystemExit(f"stale-shard: no rank tp{tp}/pp{pp} file under {it}")


def reseal(f: h5py.File) -> None:
    """Recomputes the format v1.1 metadata checksum of a file that carried one, so the injected
    fault stays silent (as a faulty accelerator would write it) instead of showing up as damaged
    metadata."""
    if ckpt_reader.METADATA_ATTR in f.attrs or ckpt_reader.FORMAT_MINOR_ATTR in f.attrs:
        ckpt_reader.write_metadata_checksum(f)


def inject(args: argparse.Namespace) -> None:
    if args.fault == "stale-shard":
        if not (os.path.isdir(args.before) and os.path.isdir(args.after)):
            raise SystemExit("stale-shard: --before and --after must be megatron checkpoint directories")
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
        shutil.copytree(args.after, args.out)
        stale = rank_file(args.before, args.tp_rank, args.pp_rank)
        target = rank_file(args.out, args.tp_rank, args.pp_rank)
        # The rank saved its step-t tensors under the step-(t+1) metadata.
        with h5py.File(target, "r") as f:
            root = {k: f.attrs[k] for k in f.attrs}
        shutil.copyfile(stale, target)
        with h5py.File(target, "r+") as f:
            for k, v in root.items():
                f.attrs[k] = v
            reseal(f)
        return
    shutil.copyfile(args.after, args.out)
    with h5py.File(args.before, "r") as a, h5py.File(args.out, "r+") as f:
        opt = json.loads(ref_h5.attr_str(a, "optimizer"))
        step = int(a.attrs["step"])
        names = params(f)
        if args.fault == "bitflip":
            flip_bit(f, args.tensor or "layers.1.mlp.up.weight", args.index, args.bit)
        elif args.fault == "lr":
            for n in names:
                ta, tb = ref_h5.read_tensor(a, theta_key(a, n)), ref_h5.read_tensor(f, theta_key(f, n))
                set_theta(f, n, ta + np.float32(args.factor) * (tb - ta))
        elif args.fault == "no-decay":
            for n in names:
                shape = f[ref_h5.key_path(n)].shape
                if opt["decay"] == "all" or len(shape) >= 2:
                    ta, tb = ref_h5.read_tensor(a, theta_key(a, n)), ref_h5.read_tensor(f, theta_key(f, n))
                    set_theta(f, n, tb + np.float32(opt["lr"] * opt["weight_decay"]) * ta)
        elif args.fault == "swap-heads":
            cfg = json.loads(ref_h5.attr_str(f, "model_config"))
            hd = cfg["hidden"] // cfg["heads"]
            h1, h2 = (int(x) for x in args.heads.split(","))
            n = f"layers.{args.layer}.attn.q.weight"
            keys = [n] + (["optimizer.master." + n] if ref_h5.has(f, "optimizer.master." + n) else [])
            for k in keys:
                w = ref_h5.read_tensor(f, k).copy()
                w[h1 * hd:(h1 + 1) * hd], w[h2 * hd:(h2 + 1) * hd] = w[h2 * hd:(h2 + 1) * hd].copy(), w[h1 * hd:(h1 + 1) * hd].copy()
                ref_h5.write_tensor(f, k, w, ref_h5.dtype_of(f, k))
        elif args.fault == "stale-v":
            k = "optimizer.exp_avg_sq." + (args.tensor or "layers.1.attn.v.weight")
            ref_h5.write_tensor(f, k, ref_h5.read_tensor(a, k), "float32")
        elif args.fault == "no-clip":
            norm = args.grad_norm
            if norm is None:
                user = json.loads(ref_h5.attr_str(f, "user_metadata") or "{}")
                if "grad_norm" not in user:
                    raise SystemExit("no-clip: the after-checkpoint records no grad_norm; pass --grad-norm")
                norm = float(user["grad_norm"])
            coef = opt["grad_clip"] / (norm + 1e-6) if opt["grad_clip"] > 0 else 1.0
            if coef >= 1:
                raise SystemExit(f"no-clip: clipping was not active in this step (norm {norm}, limit {opt['grad_clip']})")
            b1 = opt["beta1"]
            for n in names:
                ma, mb = ref_h5.read_tensor(a, "optimizer.exp_avg." + n), ref_h5.read_tensor(f, "optimizer.exp_avg." + n)
                va = ref_h5.read_tensor(a, "optimizer.exp_avg_sq." + n)
                g = ((mb.astype(np.float64) - b1 * ma) / (1 - b1) / coef).astype(np.float32)
                decay = opt["decay"] == "all" or len(ma.shape) >= 2
                th, m, v = adam(opt, step, ref_h5.read_tensor(a, theta_key(a, n)), ma, va, g, decay)
                set_theta(f, n, th)
                ref_h5.write_tensor(f, "optimizer.exp_avg." + n, m, "float32")
                ref_h5.write_tensor(f, "optimizer.exp_avg_sq." + n, v, "float32")
        ref_h5.update_counts(f)
        reseal(f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fault", required=True, choices=FAULTS)
    ap.add_argument("--before", required=True, help="checkpoint before the step (file, or directory for stale-shard)")
    ap.add_argument("--after", required=True, help="checkpoint after the step")
    ap.add_argument("--out", required=True, help="where to write the faulty after-checkpoint")
    ap.add_argument("--tensor", help="bitflip / stale-v: canonical tensor name")
    ap.add_argument("--index", type=int, default=17, help="bitflip: flat element index (default 17)")
    ap.add_argument("--bit", type=int, help="bitflip: bit number (default: top exponent bit)")
    ap.add_argument("--factor", type=float, default=1.1, help="lr: learning-rate factor (default 1.1)")
    ap.add_argument("--layer", type=int, default=0, help="swap-heads: layer (default 0)")
    ap.add_argument("--heads", default="0,1", help="swap-heads: the two heads (default 0,1)")
    ap.add_argument("--grad-norm", type=float, help="no-clip: gradient norm before clipping")
    ap.add_argument("--tp-rank", type=int, default=1, help="stale-shard: tensor-parallel rank (default 1)")
    ap.add_argument("--pp-rank", type=int, default=0, help="stale-shard: pipeline rank (default 0)")
    args = ap.parse_args()
    try:
        inject(args)
    except (OSError, KeyError, ValueError) as e:
        print(f"ref_inject_fault: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        if isinstance(e.code, str):
            print(f"ref_inject_fault: {e.code}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
