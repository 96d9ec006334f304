#!/usr/bin/env python3
"""Check ckpt-written Cerebras `.mdl` files with the real library (venv-cs: cerebras-pytorch 2.10,
torch 2.4; not run in CI).

    /work/venv-cs/bin/python tools/cerebras_check.py OUT.mdl [--against SRC.mdl]
        [--expected Tests/Fixtures/interop/cerebras-gpt2/expected.json] [--modelzoo-src /tmp/mz/src]
        [--canonical Tests/Fixtures/interop/megatron-dist-gpt2-tp2pp2/expected.json]

- cstorch.load(OUT) must succeed (it refuses partial files and rebuilds the state dict from
  __spec__).
- --against: the state dict equals cstorch.load(SRC): the same pytree structure (keys, order,
  container types), every tensor bit for bit with its dtype and shape, every other value equal.
- --expected: every tensor fingerprint of a fixture's expected.json (the tensors cstorch.save
  was given) matches.
- --modelzoo-src: Model Zoo builds the model its __metadata__ params describe and loads the
  checkpoint as its trainer does: model.load_state_dict(strict=True), cstorch.optim.AdamW over
  configure_param_groups loads the optimizer state, and one training step runs.
- --canonical (with --modelzoo-src): an expected.json whose "canonical" section holds canonical
  names (a torch_dist fixture's: what megatron-core held; ckpt converted it to this .mdl). Every
  model tensor cstorch.load returns, mapped to canonical names by make_cerebras_fixtures'
  independent table, and every optimizer.state.<i> moment and master, <i> resolved to a
  parameter by Model Zoo's own configure_param_groups order, must have the fingerprint there
  (checked on the loaded state dict, before AdamW.load_state_dict casts the state to the
  parameters' dtype); global_step must be its iteration.
Prints one line per check; exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def fail(msg: str) -> None:
    print(f"FAIL {msg}")
    sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mdl")
    ap.add_argument("--against")
    ap.add_argument("--expected")
    ap.add_argument("--modelzoo-src")
    ap.add_argument("--canonical")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    if a.modelzoo_src:
        sys.path.insert(0, os.path.abspath(a.modelzoo_src))
    import torch
    import cerebras.pytorch as cstorch
    import interop_hash

    cstorch.backend("CPU")
    state = cstorch.load(a.mdl)
    leaves, spec = torch.utils._pytree.tree_flatten(state)
    keys = [".".join(k) for k in cstorch.utils.nest.recurse_spec(spec)]
    print(f"ok   cstorch.load {a.mdl}: {len(keys)} leaves, {sum(isinstance(v, torch.Tensor) for v in leaves)} tensors")
    if a.against:
        ref = cstorch.load(a.against)
        rleaves, rspec = torch.utils._pytree.tree_flatten(ref)
        if rspec != spec:
            fail(f"{a.mdl}: the state dict's structure differs from {a.against}")
        for k, x, y in zip(keys, leaves, rleaves):
            if isinstance(y, torch.Tensor):
                if not isinstance(x, torch.Tensor) or interop_hash.record(x) != interop_hash.record(y):
                    fail(f"{a.mdl}: {k} differs from {a.against}")
            elif type(x) is not type(y) or x != y:
                fail(f"{a.mdl}: {k} is {x!r}, {a.against} has {y!r}")
        print(f"ok   equal to cstorch.load({a.against}): structure, {len(keys)} leaves bit for bit")
    if a.expected:
        e = json.load(open(a.expected))
        got = {k: interop_hash.record(v) for k, v in zip(keys, leaves) if isinstance(v, torch.Tensor)}
        for k, rec in e["tensors"].items():
            if got.get(k) != rec:
                fail(f"{a.mdl}: {k} is {got.get(k)}, the fixture's cstorch held {rec}")
        print(f"ok   {len(e['tensors'])} tensor fingerprints of {a.expected}")
    if a.modelzoo_src:
        from cerebras.modelzoo.common.optim_utils import configure_param_groups
        from cerebras.modelzoo.models.nlp.gpt2.model import Gpt2Model
        from cerebras.modelzoo.models.nlp.llama.model import LlamaModel

        meta = state["__metadata__"][-1]
        cfg = dict(meta["params"]["trainer"]["init"]["model"])
        for k in ("dropout_rate", "attention_dropout_rate", "embedding_dropout_rate"):
            cfg.setdefault(k, 0.0)
        model = (Gpt2Model if cfg["name"] == "gpt2" else LlamaModel)(cfg)
        dtype = state["model"][next(iter(state["model"]))].dtype
        model = model.to(dtype)
        if a.canonical:
            check_canonical(a, state, model, cfg, configure_param_groups, interop_hash)
        model.load_state_dict(state["model"], strict=True)
        groups = state["optimizer"]["param_groups"]
        opt = cstorch.optim.AdamW(configure_param_groups(model, {"weight_decay": groups[0]["weight_decay"]}),
                                  lr=float(groups[0]["lr"]), betas=tuple(groups[0]["betas"]), eps=groups[0]["eps"])
        opt.load_state_dict(state["optimizer"])
        for i, p in enumerate(q for g in opt.param_groups for q in g["params"]):
            s = opt.state[p]
            if s["exp_avg"].shape != p.shape:
                fail(f"{a.mdl}: optimizer.state.{i} has the shape of another parameter")
        ids = torch.randint(0, cfg["vocab_size"], (2, 8), dtype=torch.int32)
        loss = model({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids})
        loss.backward()
        opt.step()
        print(f"ok   Model Zoo {type(model).__name__}: load_state_dict(strict=True), AdamW state loaded, one step (loss {float(loss):.4f})")


def check_canonical(a, state: dict, model, cfg: dict, configure_param_groups, interop_hash) -> None:
    """--canonical: the loaded state dict, by canonical name, against EXPECTED's fingerprints."""
    from make_cerebras_fixtures import canonical_name

    exp = json.load(open(a.canonical))
    want = exp["canonical"]
    if "iteration" in exp and state.get("global_step") != exp["iteration"]:
        fail(f"{a.mdl}: global_step {state.get('global_step')}, {a.canonical} has iteration {exp['iteration']}")
    tied = bool(cfg.get("share_embedding_weights", True))
    got: dict[str, dict] = {"model": {}}
    for k, v in state["model"].items():
        name, copy = canonical_name("model." + k if not k.startswith("model.") else k, tied)
        if not copy:
            got["model"][name] = interop_hash.record(v)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = configure_param_groups(model, {"weight_decay": state["optimizer"]["param_groups"][0]["weight_decay"]})
    order = [canonical_name(names[id(p)], tied)[0] for g in groups for p in g["params"]]
    for i, st in state["optimizer"]["state"].items():
        for k, v in st.items():
            if k in ("exp_avg", "exp_avg_sq", "master"):
                got.setdefault(k, {})[order[int(i)]] = interop_hash.record(v)
    n = 0
    for section, recs in [("model", want["model"])] + sorted(want["optimizer"].items()):
        if got.get(section, {}) != recs:
            bad = sorted(k for k in set(recs) | set(got.get(section, {})) if got.get(section, {}).get(k) != recs.get(k))
            fail(f"{a.mdl}: {section} {bad[0]} is {got.get(section, {}).get(bad[0])}, {a.canonical} has {recs.get(bad[0])}"
                 f" ({len(bad)} differ)")
        n += len(recs)
    if set(got) - {"model"} != set(want["optimizer"]):
        fail(f"{a.mdl}: optimizer states {sorted(set(got) - {'model'})}, {a.canonical} has {sorted(want['optimizer'])}")
    print(f"ok   {n} canonical fingerprints of {a.canonical} (optimizer indices by Model Zoo's param groups)")


if __name__ == "__main__":
    main()
