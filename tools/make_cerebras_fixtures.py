#!/usr/bin/env python3
"""Make the Cerebras `.mdl` fixtures with the real libraries (venv-cs python; not run in CI).

    /work/venv-cs/bin/python tools/make_cerebras_fixtures.py --modelzoo-src /tmp/mz/src \
        [--out Tests/Fixtures/interop]

Needs cerebras-pytorch 2.10.0 (torch 2.4) and the Cerebras Model Zoo source at Release_2.10.0
(not on PyPI: `git archive Release_2.10.0 src/cerebras/modelzoo` of Cerebras/modelzoo, see
Tests/Fixtures/interop/README.md for the packages its imports need). Writes, under --out:
  cerebras-gpt2/checkpoint_2.mdl    Model Zoo Gpt2Model (tied, learned positions, LayerNorm, biases)
  cerebras-llama/checkpoint_2.mdl   Model Zoo LlamaModel (GQA, SwiGLU, RMSNorm, rotary, untied)
  cerebras-misc/misc.mdl            a cstorch.save of everything else a state dict may hold: a
                                    compressible tensor, a tensor saved twice (LinkedObject), a
                                    key with '/', 0-d and empty tensors, fp16/int64/bool tensors,
                                    strings, None, tuples, a set, an OrderedDict, a dill-pickled
                                    object (bytes)
each cast to bfloat16 and trained two real steps on the CPU backend with cstorch.optim.AdamW
over Model Zoo's own parameter groups (configure_param_groups: weight decay / none) and a
LinearLR schedule, then saved with cstorch.save as Model Zoo's trainer builds its state dict
(model, optimizer, schedulers, global_step, __metadata__). Beside each, expected.json holds
the fingerprints (tools/interop_hash.py) of every tensor the library held, the non-tensor
values, the optimizer's parameter order (state index -> Model Zoo name, from the optimizer's
own param_groups) and the canonical tensors ckpt must produce.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")

GPT2 = dict(
    name="gpt2", vocab_size=101, hidden_size=16, num_hidden_layers=2, num_heads=4, filter_size=64,
    max_position_embeddings=32, position_embedding_type="learned", nonlinearity="gelu_new",
    share_embedding_weights=True, layer_norm_epsilon=1e-5, dropout_rate=0.0,
    attention_dropout_rate=0.0, embedding_dropout_rate=0.0)
LLAMA = dict(
    name="llama", vocab_size=101, hidden_size=16, num_hidden_layers=2, num_heads=4, filter_size=40,
    max_position_embeddings=32, attention_module="multiquery_attention",
    extra_attention_params={"num_kv_groups": 2}, nonlinearity="swiglu", norm_type="rmsnorm",
    position_embedding_type="rotary", rotary_dim=4, rope_theta=10000.0, layer_norm_epsilon=1e-6,
    share_embedding_weights=False, use_bias_in_output=False, use_ffn_bias=False,
    use_ffn_bias_in_attention=False, use_projection_bias_in_attention=False, dropout_rate=0.0,
    attention_dropout_rate=0.0, embedding_dropout_rate=0.0)
OPTIMIZER = {"AdamW": {"betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1, "correct_bias": True}}
SCHEDULER = {"LinearLR": {"initial_learning_rate": 1e-3, "end_learning_rate": 1e-4, "total_iters": 10}}

# Model Zoo names -> canonical (formats/tensor-names.md), written independently of the Swift
# layout tables so the fixture checks them.
LAYER_MAP = {
    "self_attn.proj_q_dense_layer": "attn.q", "self_attn.proj_k_dense_layer": "attn.k",
    "self_attn.proj_v_dense_layer": "attn.v", "self_attn.proj_output_dense_layer": "attn.out",
    "norm1": "attn_norm", "norm3": "mlp_norm", "ffn.ffn.0.linear_layer_for_glu": "mlp.gate",
    "ffn.ffn.0.linear_layer": "mlp.up", "ffn.ffn.1.linear_layer": "mlp.down",
}


def canonical_name(name: str, tied: bool) -> tuple[str, bool]:
    """(canonical name, is a copy) of a Model Zoo state-dict key."""
    n = name.removeprefix("model.")
    top = {"embedding_layer.word_embeddings.weight": ("embed.tokens.weight", False),
           "embedding_layer.position_embeddings.embed.weight": ("embed.positions.weight", False),
           "ln_f.weight": ("final_norm.weight", False), "ln_f.bias": ("final_norm.bias", False),
           "transformer_decoder.norm.weight": ("final_norm.weight", True),
           "transformer_decoder.norm.bias": ("final_norm.bias", True),
           "lm_head.weight": ("embed.tokens.weight", True) if tied else ("lm_head.weight", False)}
    if n in top:
        return top[n]
    prefix = "transformer_decoder.layers."
    assert n.startswith(prefix), n
    i, rest = n[len(prefix):].split(".", 1)
    module, leaf = rest.rsplit(".", 1)
    return f"layers.{i}.{LAYER_MAP[module]}.{leaf}", False


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [jsonable(x) for x in v]
    return v


def make(kind: str, cfg: dict, out_root: str, modelzoo_src: str) -> None:
    import torch
    import cerebras.pytorch as cstorch
    from cerebras.modelzoo.common.optim_utils import configure_param_groups
    from cerebras.modelzoo.models.nlp.gpt2.model import Gpt2Model
    from cerebras.modelzoo.models.nlp.llama.model import LlamaModel
    import interop_hash

    torch.manual_seed(1234 if kind == "gpt2" else 4321)
    model = (Gpt2Model if kind == "gpt2" else LlamaModel)(dict(cfg))
    with torch.no_grad():  # Model Zoo initialises norms to 1 and biases to 0: noise hides nothing
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model = model.to(torch.bfloat16)
    opt_params = OPTIMIZER["AdamW"]
    optimizer = cstorch.optim.AdamW(
        configure_param_groups(model, {"weight_decay": opt_params["weight_decay"]}), lr=1e-3,
        betas=tuple(opt_params["betas"]), eps=opt_params["eps"], correct_bias=opt_params["correct_bias"])
    scheduler = cstorch.optim.lr_scheduler.LinearLR(optimizer, **SCHEDULER["LinearLR"])
    g = torch.Generator().manual_seed(7)
    for _ in range(2):
        ids = torch.randint(0, cfg["vocab_size"], (2, 8), generator=g, dtype=torch.int32)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
        optimizer.zero_grad()
        loss = model(batch)
        loss.backward()
        optimizer.step()
        scheduler.step()
    params = {"trainer": {"init": {"model": cfg, "optimizer": OPTIMIZER, "schedulers": [SCHEDULER]}}}
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedulers": [scheduler.state_dict()],
        "global_step": 2,
        "__metadata__": [{"version": cstorch.__version__, "model_name": type(model).__name__, "params": params}],
    }
    out = os.path.join(out_root, f"cerebras-{kind}")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    path = os.path.join(out, "checkpoint_2.mdl")
    cstorch.save(state, path)

    # What the library held, leaf by leaf in cstorch.save's order.
    leaves, spec = torch.utils._pytree.tree_flatten(state)
    keys = [".".join(k) for k in cstorch.utils.nest.recurse_spec(spec)]
    tensors, values = {}, {}
    for k, v in zip(keys, leaves):
        if isinstance(v, torch.Tensor):
            tensors[k] = interop_hash.record(v)
        else:
            values[k] = jsonable(v)
    names = {id(p): n for n, p in model.named_parameters()}
    order = [names[id(p)] for grp in optimizer.param_groups for p in grp["params"]]
    tied = bool(cfg.get("share_embedding_weights", True))
    canonical: dict = {"model": {}, "optimizer/exp_avg": {}, "optimizer/exp_avg_sq": {}}
    for n, t in state["model"].items():
        c, copy = canonical_name(n, tied)
        if not copy:
            canonical["model"][c] = interop_hash.record(t)
    for i, n in enumerate(order):
        c, _ = canonical_name(n, tied)
        for s in ("exp_avg", "exp_avg_sq"):
            canonical[f"optimizer/{s}"][c] = interop_hash.record(state["optimizer"]["state"][i][s])
    # cstorch.load must give back exactly this.
    loaded = cstorch.load(path)
    lk, lspec = torch.utils._pytree.tree_flatten(loaded)
    assert lspec == spec, "cstorch.load rebuilt another structure"
    for k, a, b in zip(keys, leaves, lk):
        if isinstance(a, torch.Tensor):
            assert interop_hash.record(b) == tensors[k], k
        else:
            assert a == b, (k, a, b)
    llama = kind == "llama"
    model_config = {
        "family": kind, "layers": cfg["num_hidden_layers"], "hidden": cfg["hidden_size"],
        "heads": cfg["num_heads"], "kv_heads": cfg.get("extra_attention_params", {}).get("num_kv_groups", cfg["num_heads"]),
        "ffn": cfg["filter_size"], "vocab": cfg["vocab_size"], "max_seq": cfg["max_position_embeddings"],
        "norm_eps": cfg["layer_norm_epsilon"], "activation": "swiglu" if llama else "gelu_tanh",
        "tie_embeddings": tied, "norm": "rmsnorm" if llama else "layernorm",
        "position": "rope" if llama else "learned", "rope_theta": cfg.get("rope_theta", 10000.0), "bias": not llama,
    }
    import h5py
    with h5py.File(path, "r") as f:
        filters = sorted({"+".join(f[k]._filters) or "none" for k in f.keys() if isinstance(f[k], h5py.Dataset) and f[k].shape})
    expected = {
        "made_by": {"python": sys.version.split()[0], "torch": torch.__version__, "cerebras-pytorch": cstorch.__version__,
                    "modelzoo": "Cerebras/modelzoo Release_2.10.0 (f1fd1e0)", "h5py": h5py.__version__},
        "file": "checkpoint_2.mdl", "model_config": model_config, "step": 2, "compression": filters,
        "keys": keys, "tensors": tensors, "values": values, "parameter_order": order,
        "param_group_sizes": [len(grp["params"]) for grp in optimizer.param_groups],
        "canonical": canonical,
    }
    with open(os.path.join(out, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(f"{out}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, {len(values)} other leaves")


def make_misc(out_root: str) -> None:
    """cstorch.save of the value kinds a Model Zoo state dict has not (see the module doc)."""
    from collections import OrderedDict

    import torch
    import cerebras.pytorch as cstorch
    import interop_hash

    g = torch.Generator().manual_seed(99)
    shared = torch.randn(3, 5, generator=g).to(torch.bfloat16)
    state = {
        "zeros": torch.zeros(64, 32),
        "ramp": torch.arange(256, dtype=torch.float32).reshape(16, 16),
        "tied": {"first": shared, "second": shared},
        "group/inner": torch.randn(4, generator=g),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "half": torch.randn(2, 3, generator=g).to(torch.float16),
        "ints": torch.arange(5, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "meta": OrderedDict([("name", "tiny"), ("none", None), ("pi", 3.25), ("flag", True),
                             ("pair", (7, "x")), ("ids", {4, 9})]),
        "blob": b"\x00cerebras\xff",
    }
    out = os.path.join(out_root, "cerebras-misc")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    path = os.path.join(out, "misc.mdl")
    cstorch.save(state, path)
    leaves, spec = torch.utils._pytree.tree_flatten(state)
    keys = [".".join(k) for k in cstorch.utils.nest.recurse_spec(spec)]
    tensors = {k: interop_hash.record(v) for k, v in zip(keys, leaves) if isinstance(v, torch.Tensor)}
    values = {k: (jsonable(v) if not isinstance(v, bytes) else {"bytes_hex": v.hex()})
              for k, v in zip(keys, leaves) if not isinstance(v, torch.Tensor)}
    loaded = cstorch.load(path)
    assert torch.utils._pytree.tree_flatten(loaded)[1] == spec
    with open(os.path.join(out, "expected.json"), "w") as fh:
        json.dump({"file": "misc.mdl", "keys": keys, "tensors": tensors, "values": values}, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(f"{out}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, {len(values)} other leaves")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modelzoo-src", required=True, help="directory holding cerebras/modelzoo (Release_2.10.0)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.modelzoo_src))
    warnings.filterwarnings("ignore")
    import cerebras.pytorch as cstorch

    cstorch.backend("CPU")
    make("gpt2", GPT2, a.out, a.modelzoo_src)
    make("llama", LLAMA, a.out, a.modelzoo_src)
    make_misc(a.out)


if __name__ == "__main__":
    main()
