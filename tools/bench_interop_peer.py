#!/usr/bin/env python3
"""The Python peer of ckpt's interop benchmark: HF LLaMA safetensors -> Megatron legacy `torch`
TP x PP rank files -> HF safetensors, done "the usual way" (venv python).

    /work/venv/bin/python tools/bench_interop_peer.py roundtrip HF_DIR WORK --tp 8 --pp 4 [--check]
    /work/venv/bin/python tools/bench_interop_peer.py to-megatron HF_DIR MEG_DIR --tp 8 --pp 4
    /work/venv/bin/python tools/bench_interop_peer.py to-hf MEG_DIR HF_OUT [--max-shard-size 5GB]

to-megatron: safetensors.torch.load_file of every shard (the whole model in memory), canonical
tensors, torch split/cat per rank (per-group QKV regroup, [gate_r; up_r] fc1, row/column splits,
vocabulary padded with zero rows to a multiple of 128 x TP), one dict per rank with args
(argparse.Namespace with Megatron's argument names), checkpoint_version 3.0, iteration 0 and the
model state dict (with the local spec's `_extra_state: None` entries), torch.save to
MEG_DIR/release/mp_rank_TT_PPP/model_optim_rng.pt, tracker "release".
to-hf: torch.load(weights_only=True) of every rank file, merge (tools/interop_canonical.py),
HF names, safetensors.torch.save_file in shards of --max-shard-size + index + config.json.

roundtrip runs each direction in its own child process and reports, per direction and in total,
wall time and peak RSS (the child's ru_maxrss from wait4), plus bytes read and written; with
--check it then verifies (untimed) that HF_DIR and WORK/hf hold the same tensors bit for bit.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def dir_bytes(d: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)


def parse_size(s: str) -> int:
    s = s.strip().upper()
    for unit, mult in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


def megatron_args(cfg: dict, tp: int, pp: int, padded: int):
    import argparse as ap

    import torch

    return ap.Namespace(
        num_layers=cfg["layers"], hidden_size=cfg["hidden"], ffn_hidden_size=cfg["ffn"],
        num_attention_heads=cfg["heads"], num_query_groups=cfg["kv_heads"],
        group_query_attention=cfg["kv_heads"] != cfg["heads"], kv_channels=cfg["hidden"] // cfg["heads"],
        padded_vocab_size=padded, vocab_size=cfg["vocab"], make_vocab_size_divisible_by=128,
        swiglu=True, normalization="RMSNorm", norm_epsilon=cfg["norm_eps"], layernorm_epsilon=cfg["norm_eps"],
        position_embedding_type="rope", rotary_base=int(cfg["rope_theta"]),
        untie_embeddings_and_output_weights=not cfg["tie_embeddings"], add_bias_linear=cfg["bias"],
        tensor_model_parallel_size=tp, pipeline_model_parallel_size=pp, data_parallel_size=1,
        max_position_embeddings=cfg["max_seq"], seq_length=cfg["max_seq"], bf16=True, fp16=False,
        params_dtype=torch.bfloat16, ckpt_format="torch", use_distributed_optimizer=False,
        transformer_impl="local", openai_gelu=False)


def to_megatron(hf_dir: str, out: str, tp: int, pp: int) -> None:
    import glob

    import torch
    from safetensors.torch import load_file

    import interop_canonical as canon

    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = canon.config_from_hf(json.load(f))
    sd: dict = {}
    for path in sorted(glob.glob(os.path.join(hf_dir, "*.safetensors"))):
        sd.update(load_file(path))
    can = canon.hf_llama(sd, cfg)
    del sd
    mult = 128 * tp
    padded = -(-cfg["vocab"] // mult) * mult
    ranks = canon.canonical_to_megatron(can, cfg, tp, pp, padded)
    del can
    args = megatron_args(cfg, tp, pp, padded)
    base = os.path.join(out, "release")
    for (t, s), model in sorted(ranks.items()):
        state = {}
        for name, tensor in model.items():
            # A split is a view of the whole tensor's storage, and torch.save writes whole
            # storages: without the copy every rank file would hold the full tensor (as
            # Megatron's own parameters never share storage).
            state[name] = tensor.clone() if tensor.untyped_storage().nbytes() != tensor.nbytes else tensor
            if name.endswith(("linear_qkv.weight", "linear_proj.weight", "linear_fc1.weight",
                              "linear_fc2.weight")) or name == "output_layer.weight":
                state[name.rsplit(".", 1)[0] + "._extra_state"] = None
        d = os.path.join(base, f"mp_rank_{t:02d}" + (f"_{s:03d}" if pp > 1 else ""))
        os.makedirs(d, exist_ok=True)
        torch.save({"args": args, "checkpoint_version": 3.0, "iteration": 0, "model": state},
                   os.path.join(d, "model_optim_rng.pt"))
    with open(os.path.join(out, "latest_checkpointed_iteration.txt"), "w") as f:
        f.write("release")


def to_hf(meg_dir: str, out: str, max_shard: int) -> None:
    import glob

    import torch
    from safetensors.torch import save_file

    import interop_canonical as canon
    from interop_check import register_safe_globals

    register_safe_globals()
    paths = sorted(glob.glob(os.path.join(meg_dir, "release", "mp_rank_*", "model_optim_rng.pt")))
    ranks, args = {}, None
    for p in paths:
        sd = torch.load(p, weights_only=True, map_location="cpu")
        args = sd["args"]
        parts = os.path.basename(os.path.dirname(p)).split("_")
        t, s = int(parts[2]), (int(parts[3]) if len(parts) > 3 else 0)
        ranks[(t, s)] = {k: v for k, v in sd["model"].items() if isinstance(v, torch.Tensor)}
    cfg = canon.config_from_megatron(args, int(args.vocab_size))
    tp, pp = int(args.tensor_model_parallel_size), int(args.pipeline_model_parallel_size)
    can = canon.megatron(ranks, cfg, tp, pp, check_replicas=False)
    del ranks
    hf = canon.canonical_to_hf_llama(can, cfg)
    del can
    os.makedirs(out, exist_ok=True)
    shards, size = [[]], 0
    for name, t in hf.items():
        n = t.numel() * t.element_size()
        if shards[-1] and size + n > max_shard:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += n
    weight_map, total = {}, 0
    for k, names in enumerate(shards, 1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1 else "model.safetensors"
        save_file({n: hf[n].contiguous() for n in names}, os.path.join(out, fname), metadata={"format": "pt"})
        for n in names:
            weight_map[n] = fname
            total += hf[n].numel() * hf[n].element_size()
    if len(shards) > 1:
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_parameters": total // 2, "total_size": total},
                       "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    from transformers import LlamaConfig

    LlamaConfig(hidden_size=cfg["hidden"], num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
                num_key_value_heads=cfg["kv_heads"], intermediate_size=cfg["ffn"], vocab_size=cfg["vocab"],
                max_position_embeddings=cfg["max_seq"], tie_word_embeddings=cfg["tie_embeddings"],
                rms_norm_eps=cfg["norm_eps"], dtype="bfloat16",
                architectures=["LlamaForCausalLM"]).save_pretrained(out)


def timed_child(argv: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__)] + argv)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed with status {status}")
    return {"wall_s": round(wall, 3), "peak_rss_bytes": ru.ru_maxrss * 1024,
            "user_s": round(ru.ru_utime, 3), "sys_s": round(ru.ru_stime, 3)}


def check_same(a: str, b: str) -> list[str]:
    import glob

    import torch
    from safetensors.torch import load_file

    def load(d):
        sd = {}
        for p in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
            sd.update(load_file(p))
        return sd

    x, y = load(a), load(b)
    bad = [k for k in sorted(set(x) | set(y)) if k not in x or k not in y or x[k].dtype != y[k].dtype
           or x[k].shape != y[k].shape or not torch.equal(x[k].view(torch.uint8), y[k].view(torch.uint8))]
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("roundtrip")
    p.add_argument("hf_dir")
    p.add_argument("work")
    p.add_argument("--tp", type=int, default=8)
    p.add_argument("--pp", type=int, default=4)
    p.add_argument("--max-shard-size", default="5GB")
    p.add_argument("--check", action="store_true")
    p = sub.add_parser("to-megatron")
    p.add_argument("hf_dir")
    p.add_argument("out")
    p.add_argument("--tp", type=int, default=8)
    p.add_argument("--pp", type=int, default=4)
    p = sub.add_parser("to-hf")
    p.add_argument("meg_dir")
    p.add_argument("out")
    p.add_argument("--max-shard-size", default="5GB")
    a = ap.parse_args()
    if a.cmd == "to-megatron":
        to_megatron(a.hf_dir, a.out, a.tp, a.pp)
        return
    if a.cmd == "to-hf":
        to_hf(a.meg_dir, a.out, parse_size(a.max_shard_size))
        return
    import shutil

    meg, hf = os.path.join(a.work, "megatron"), os.path.join(a.work, "hf")
    for d in (meg, hf):
        if os.path.exists(d):
            shutil.rmtree(d)
    src_bytes = dir_bytes(a.hf_dir)
    r1 = timed_child(["to-megatron", a.hf_dir, meg, "--tp", str(a.tp), "--pp", str(a.pp)])
    r1.update(read_bytes=src_bytes, written_bytes=dir_bytes(meg))
    r2 = timed_child(["to-hf", meg, hf, "--max-shard-size", a.max_shard_size])
    r2.update(read_bytes=r1["written_bytes"], written_bytes=dir_bytes(hf))
    result = {"peer": "python (safetensors load_file, torch split/cat, torch.save per rank)",
              "tp": a.tp, "pp": a.pp, "hf_to_megatron": r1, "megatron_to_hf": r2,
              "total_wall_s": round(r1["wall_s"] + r2["wall_s"], 3),
              "peak_rss_bytes": max(r1["peak_rss_bytes"], r2["peak_rss_bytes"])}
    if a.check:
        bad = check_same(a.hf_dir, hf)
        result["roundtrip_bit_exact"] = not bad
        result["roundtrip_mismatches"] = bad[:20]
    for k in ("hf_to_megatron", "megatron_to_hf"):
        r = result[k]
        print(f"{k}: {r['wall_s']:.2f} s, peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB, "
              f"read {r['read_bytes'] / 1e6:.1f} MB, wrote {r['written_bytes'] / 1e6:.1f} MB")
    print(json.dumps(result, sort_keys=True))
    if a.check and bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
