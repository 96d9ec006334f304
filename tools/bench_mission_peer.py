#!/usr/bin/env python3
"""The Python peer of ckpt's mission benchmark (tools/bench_mission.py): a Megatron `torch_dist`
checkpoint with distributed-optimizer state -> one Cerebras `.mdl`, done the way a user would do
it today with the public tools (venv-cs python: torch 2.4 + cerebras-pytorch 2.10).

    /work/venv-cs/bin/python tools/bench_mission_peer.py to-pt ITER_DIR OUT.pt
    /work/venv-cs/bin/python tools/bench_mission_peer.py to-mdl OUT.pt ITER_DIR OUT.mdl [--delete-pt]
    /work/venv-cs/bin/python tools/bench_mission_peer.py check ITER_DIR CKPT.mdl

to-pt: `torch.distributed.checkpoint.format_utils.dcp_to_torch_save(ITER_DIR, OUT.pt)` (what
`python -m torch.distributed.checkpoint.format_utils dcp_to_torch_save` runs): every global
tensor of `.metadata` read from the `__R_k.distcp` files into memory, then one `torch.save`.

to-mdl: `torch.load(OUT.pt)` (the whole state dict in memory; with --delete-pt the .pt is
removed once loaded, as a user short of disk would), `torch.load(ITER_DIR/common.pt)` for the
args, iteration and param groups, then the state dict ckpt's `--to cerebras` writes (Model Zoo's
trainer layout, formats/cerebras-mdl.md, formats/layouts/cerebras-llama.json) built with torch:

- model (`collections.OrderedDict`, Model Zoo's `state_dict()` order): the stacked layer axis
  indexed, the global QKV rows `[groups, heads/groups + 2, head_dim]` split into q, k, v, the
  SwiGLU `linear_fc1` `[gate; up]` halves into `linear_layer_for_glu` (gate) and `linear_layer`
  (up), vocabulary padding rows cut (`args.ckpt_vocab_size`, else `--vocab`), the norms from the
  Transformer Engine names, `transformer_decoder.norm.weight` as a copy of `ln_f.weight`;
- optimizer: `state[i]` = `{exp_avg, exp_avg_sq, master, beta1_power, beta2_power}` for the
  parameters in Model Zoo's group order (weight-decayed ones first, then norms), the Megatron
  `fully_reshardable` keys `optimizer.state.{exp_avg,exp_avg_sq,param}.<key>` split like their
  parameter, `beta*_power` = beta^(step+1) multiplied in float32 as cstorch's AdamW does;
  `param_groups` = cstorch AdamW's two groups (lr, betas, eps, weight decay from common.pt);
- `global_step` (the iteration) and `__metadata__` (Model Zoo's params of the model).

then `cerebras.pytorch.save` (cstorch's H5Writer: LZ4 chunks, h5py's automatic chunking; it does
not fsync: the driver times a `sync` after it). Each subcommand prints, last, one JSON line with
its phases' seconds (`time.perf_counter`) and the process's peak RSS (`ru_maxrss`).

check: the same state dict built lazily and compared leaf by leaf with a `.mdl` written by ckpt,
streaming: each global tensor is read alone with `torch.distributed.checkpoint.load` (no
process group) and every slice of it compared bit for bit with the file's dataset (h5py +
hdf5plugin); the `__spec__` (structure) must be identical and every scalar, string and `None`
leaf equal (links resolved). This verifies a full-size ckpt output against the source when the
peer itself does not fit in memory. Exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def config(common: dict, vocab: int | None) -> dict:
    """The model and optimizer values the conversion needs, from Megatron's common.pt."""
    a = common["args"]
    heads, groups = a.num_attention_heads, (a.num_query_groups if a.group_query_attention else a.num_attention_heads)
    v = vocab or getattr(a, "ckpt_vocab_size", None) or a.vocab_size
    if not v:
        raise SystemExit("bench_mission_peer: the args name no vocabulary size; pass --vocab")
    groups_pg = common["optimizer"]["optimizer"]["param_groups"]
    if not (a.swiglu and a.normalization == "RMSNorm" and a.untie_embeddings_and_output_weights and not a.add_bias_linear):
        raise SystemExit("bench_mission_peer: this peer handles the benchmark's LLaMA shape only (SwiGLU, RMSNorm, untied, no bias)")
    return {
        "layers": a.num_layers, "hidden": a.hidden_size, "heads": heads, "groups": groups,
        "head_dim": a.kv_channels or a.hidden_size // heads, "ffn": a.ffn_hidden_size, "vocab": int(v),
        "max_pos": a.max_position_embeddings, "norm_eps": a.layernorm_epsilon if hasattr(a, "layernorm_epsilon") else a.norm_epsilon,
        "rope_theta": float(a.rotary_base), "step": int(common["iteration"]),
        "lr": float(groups_pg[0]["lr"]), "betas": tuple(float(b) for b in groups_pg[0]["betas"]),
        "eps": float(groups_pg[0]["eps"]), "weight_decay": float(groups_pg[0]["weight_decay"]),
    }


def layout(cfg: dict):
    """(model entries in state_dict order: cerebras name -> (megatron key, selector, copy),
    decayed names, plain names). A selector maps the global tensor to the Cerebras tensor."""
    L, H, G, hd, F, V = cfg["layers"], cfg["hidden"], cfg["groups"], cfg["head_dim"], cfg["ffn"], cfg["vocab"]
    per = cfg["heads"] // G

    def vocab(t):
        return t[:V]

    def layer(i):
        return lambda t: t[i]

    def qkv(i, part):
        def f(t):
            x = t[i].view(G, per + 2, hd, t.shape[-1])
            if part == "q":
                return x[:, :per].reshape(G * per * hd, -1)
            return x[:, per + (0 if part == "k" else 1)].reshape(G * hd, -1)
        return f

    def fc1(i, half):
        return lambda t: t[i][:F] if half == "gate" else t[i][F:]

    def same(t):
        return t

    m = "model."
    d = "decoder.layers."
    entries = collections.OrderedDict()
    entries[m + "embedding_layer.word_embeddings.weight"] = ("embedding.word_embeddings.weight", vocab, False)
    entries[m + "ln_f.weight"] = ("decoder.final_layernorm.weight", same, False)
    decayed = [m + "embedding_layer.word_embeddings.weight"]
    plain = [m + "ln_f.weight"]
    for i in range(L):
        p = f"{m}transformer_decoder.layers.{i}."
        rows = [
            ("self_attn.proj_q_dense_layer.weight", d + "self_attention.linear_qkv.weight", qkv(i, "q"), True),
            ("self_attn.proj_k_dense_layer.weight", d + "self_attention.linear_qkv.weight", qkv(i, "k"), True),
            ("self_attn.proj_v_dense_layer.weight", d + "self_attention.linear_qkv.weight", qkv(i, "v"), True),
            ("self_attn.proj_output_dense_layer.weight", d + "self_attention.linear_proj.weight", layer(i), True),
            ("norm1.weight", d + "self_attention.linear_qkv.layer_norm_weight", layer(i), False),
            ("norm3.weight", d + "mlp.linear_fc1.layer_norm_weight", layer(i), False),
            ("ffn.ffn.0.linear_layer.weight", d + "mlp.linear_fc1.weight", fc1(i, "up"), True),
            ("ffn.ffn.0.linear_layer_for_glu.weight", d + "mlp.linear_fc1.weight", fc1(i, "gate"), True),
            ("ffn.ffn.1.linear_layer.weight", d + "mlp.linear_fc2.weight", layer(i), True),
        ]
        for name, key, sel, wd in rows:
            entries[p + name] = (key, sel, False)
            (decayed if wd else plain).append(p + name)
    entries[m + "transformer_decoder.norm.weight"] = ("decoder.final_layernorm.weight", same, True)
    entries[m + "lm_head.weight"] = ("output_layer.weight", vocab, False)
    decayed.append(m + "lm_head.weight")
    return entries, decayed, plain


def beta_power(beta: float, step: int):
    """beta^(step+1), multiplied in float32 after every step as cstorch's AdamW does."""
    import numpy as np

    b = np.float32(beta)
    p = b
    for _ in range(max(step, 0)):
        p = np.float32(p * b)
    return p


def build_state(cfg: dict, fetch) -> dict:
    """The state dict ckpt writes; fetch(megatron key, selector, copy) gives each tensor leaf."""
    import torch

    entries, decayed, plain = layout(cfg)
    model = collections.OrderedDict((n, fetch(k, sel, cp)) for n, (k, sel, cp) in entries.items())
    p1, p2 = beta_power(cfg["betas"][0], cfg["step"]), beta_power(cfg["betas"][1], cfg["step"])
    state = {}
    for i, n in enumerate(decayed + plain):
        k, sel, _ = entries[n]
        state[i] = {
            "exp_avg": fetch("optimizer.state.exp_avg." + k, sel, False),
            "exp_avg_sq": fetch("optimizer.state.exp_avg_sq." + k, sel, False),
            "master": fetch("optimizer.state.param." + k, sel, False),
            "beta1_power": torch.tensor(p1, dtype=torch.float32),
            "beta2_power": torch.tensor(p2, dtype=torch.float32),
        }

    def group(params, wd):
        return {"weight_decay": wd, "lr": cfg["lr"], "betas": cfg["betas"], "eps": cfg["eps"],
                "l2_regularization_rate": 0.0, "correct_bias": True, "amsgrad": False, "params": params}

    nd = len(decayed)
    groups = [group(list(range(nd)), cfg["weight_decay"]), group(list(range(nd, nd + len(plain))), 0.0)]
    model_params = {
        "name": "llama", "vocab_size": cfg["vocab"], "hidden_size": cfg["hidden"], "num_hidden_layers": cfg["layers"],
        "num_heads": cfg["heads"], "filter_size": cfg["ffn"], "max_position_embeddings": cfg["max_pos"],
    }
    if cfg["groups"] != cfg["heads"]:
        model_params["attention_module"] = "multiquery_attention"
        model_params["extra_attention_params"] = {"num_kv_groups": cfg["groups"]}
    model_params.update({
        "nonlinearity": "swiglu", "norm_type": "rmsnorm", "position_embedding_type": "rotary",
        "rotary_dim": cfg["head_dim"], "rope_theta": cfg["rope_theta"], "layer_norm_epsilon": cfg["norm_eps"],
        "share_embedding_weights": False, "use_bias_in_output": False, "use_ffn_bias": False,
        "use_ffn_bias_in_attention": False, "use_projection_bias_in_attention": False,
    })
    adam = {"betas": list(cfg["betas"]), "eps": cfg["eps"], "weight_decay": cfg["weight_decay"], "correct_bias": True}
    meta = {"version": "2.10.0", "model_name": "LlamaModel",
            "params": {"trainer": {"init": {"model": model_params, "optimizer": {"AdamW": adam}}}}}
    return {"model": model, "optimizer": {"state": state, "param_groups": groups},
            "global_step": cfg["step"], "__metadata__": [meta]}


def load_common(iter_dir: str) -> dict:
    import torch

    return torch.load(os.path.join(iter_dir, "common.pt"), map_location="cpu", weights_only=False)


def cmd_to_pt(a) -> dict:
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    t0 = time.perf_counter()
    dcp_to_torch_save(a.iter_dir, a.out)
    return {"dcp_to_torch_save_s": round(time.perf_counter() - t0, 3), "bytes": os.path.getsize(a.out)}


def cmd_to_mdl(a) -> dict:
    import torch
    import cerebras.pytorch as cstorch

    t0 = time.perf_counter()
    sd = torch.load(a.pt, map_location="cpu", weights_only=True)
    if a.delete_pt:
        os.remove(a.pt)
    t1 = time.perf_counter()
    cfg = config(load_common(a.iter_dir), a.vocab)

    def fetch(key, sel, copy):
        x = sel(sd[key])
        return x.clone() if copy else x

    state = build_state(cfg, fetch)
    del sd
    t2 = time.perf_counter()
    cstorch.save(state, a.out)
    t3 = time.perf_counter()
    return {"torch_load_s": round(t1 - t0, 3), "split_s": round(t2 - t1, 3), "cstorch_save_s": round(t3 - t2, 3),
            "bytes": os.path.getsize(a.out)}


def leaf_value(f, key: str, attrs, depth: int = 0):
    """('tensor', dataset) or ('value', python value) of a leaf of a cstorch file, links resolved."""
    doc = json.loads(attrs[key + ".__metadata__"])[key + ".__metadata__"]
    t = doc.get("__TYPE__")
    if t == "LinkedObject" and depth < 16:
        return leaf_value(f, doc["key"], attrs, depth + 1)
    if t in ("TorchTensorSerializer", "NumpyArraySerializer"):
        return ("tensor", f[key])
    if t == "ScalarSerializer":
        return ("value", doc["scalar_value"])
    if t == "StringSerializer":
        return ("value", doc["string_value"])
    if t == "NoneSerializer":
        return ("value", None)
    return ("other", t)


def cmd_check(a) -> dict:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the LZ4 and zstd filters)
    import numpy as np
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.utils import _pytree
    import cerebras.pytorch as cstorch
    from cerebras.pytorch.storage.save import _serialize_spec

    t0 = time.perf_counter()
    cfg = config(load_common(a.iter_dir), a.vocab)
    md = dcp.FileSystemReader(a.iter_dir).read_metadata()

    class Lazy:
        def __init__(self, key, sel):
            self.key, self.sel = key, sel

    state = build_state(cfg, lambda k, sel, cp: Lazy(k, sel))
    leaves, spec = _pytree.tree_flatten(state)
    keys = [".".join(k) for k in cstorch.utils.nest.recurse_spec(spec)]
    diffs = []
    f = h5py.File(a.mdl, "r")
    attrs = f.attrs
    if attrs["__spec__"] != json.dumps(_serialize_spec(spec), indent=4):
        diffs.append("__spec__ (the state dict's structure) differs")
    by_key = collections.defaultdict(list)
    compared = values = 0
    for k, leaf in zip(keys, leaves):
        kind, got = leaf_value(f, k, attrs)
        if isinstance(leaf, Lazy):
            if kind != "tensor":
                diffs.append(f"{k}: not a tensor in {a.mdl}")
            else:
                by_key[leaf.key].append((k, leaf.sel, got))
        elif isinstance(leaf, torch.Tensor):
            if kind != "tensor" or got.shape != tuple(leaf.shape) or got[()].tobytes() != leaf.numpy().tobytes():
                diffs.append(f"{k}: {got[()] if kind == 'tensor' else got} vs {leaf}")
            compared += 1
        else:
            want = list(leaf) if isinstance(leaf, tuple) else leaf
            if kind != "value" or got != want or type(got) is not type(want):
                diffs.append(f"{k}: {got!r} in the file, {want!r} expected")
            values += 1
    for key, uses in by_key.items():
        meta = md.state_dict_metadata[key]
        t = torch.empty(tuple(meta.size), dtype=meta.properties.dtype)
        dcp.load({key: t}, storage_reader=dcp.FileSystemReader(a.iter_dir))
        for k, sel, ds in uses:
            x = sel(t).contiguous()
            want = x.view(torch.int16) if x.dtype == torch.bfloat16 else x
            dts = ds.attrs.get("dtypes")
            if ds.shape != tuple(x.shape) or dts is None or str(dts[0]) != str(x.dtype):
                diffs.append(f"{k}: {ds.shape} {dts} in the file, {tuple(x.shape)} {x.dtype} from {key}")
                continue
            if not np.array_equal(ds[()], want.numpy()):
                diffs.append(f"{k}: bytes differ from {key}")
            compared += 1
        del t
    return {"check_s": round(time.perf_counter() - t0, 3), "leaves": len(keys), "tensors_compared": compared,
            "values_compared": values, "differences": len(diffs), "first_differences": diffs[:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("to-pt")
    p.add_argument("iter_dir")
    p.add_argument("out")
    p = sub.add_parser("to-mdl")
    p.add_argument("pt")
    p.add_argument("iter_dir")
    p.add_argument("out")
    p.add_argument("--vocab", type=int)
    p.add_argument("--delete-pt", action="store_true")
    p = sub.add_parser("check")
    p.add_argument("iter_dir")
    p.add_argument("mdl")
    p.add_argument("--vocab", type=int)
    a = ap.parse_args()
    result = {"to-pt": cmd_to_pt, "to-mdl": cmd_to_mdl, "check": cmd_check}[a.cmd](a)
    result["peak_rss_bytes"] = peak_rss()
    print(json.dumps(result))
    if result.get("differences"):
        sys.exit(1)


if __name__ == "__main__":
    main()
