#!/usr/bin/env python3
"""Logits check of ckpt's torchtitan import (venv with torchtitan: see tools/make_torchtitan_fixture.py).

    /work/venv-tt/bin/python tools/torchtitan_check.py --ckpt .build/debug/ckpt \
        [--fixture Tests/Fixtures/interop/dcp-torchtitan-llama]

1. torchtitan loads the fixture's checkpoint (its CheckpointManager.load, into a fresh
   Llama3Model built as tools/make_torchtitan_fixture.py builds it, one process, no FSDP: DCP
   reshards the FSDP2 chunks) and computes logits on fixed tokens.
2. `ckpt convert <step dir> --model-config job_config.json --to hf` writes a Hugging Face
   directory; transformers' LlamaForCausalLM loads it (float32) and computes logits on the same
   tokens.
3. The two must agree within float32 rounding (max |difference| < 1e-5): ckpt's per-head
   permutation of wq/wk from torchtitan's interleaved RoPE pairs to HF's rotate-half halves is
   right, and nothing else moved.
Also checks that torchtitan's own HF adapter (Llama3StateDictAdapter.to_hf) gives exactly the
tensors ckpt wrote. Prints one line per check; exit 1 on a failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)


def titan_logits(fixture: str, tokens):
    import torch

    import make_torchtitan_fixture as mk

    config = mk.trainer_config(fixture)  # dump_folder: only job_config.json's location
    model = config.model_spec.model.build()
    model.init_states()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # whatever torchtitan loads must come from the checkpoint
    optimizers = config.optimizer.build(model_parts=[model])
    lr_schedulers = config.lr_scheduler.build(optimizers=optimizers, training_steps=config.training.steps)
    state = mk.TrainState()
    ck = config.checkpoint.build(
        dataloader=None, model_parts=[model], optimizers=optimizers, lr_schedulers=lr_schedulers,
        states={"train_state": state}, sd_adapter=None, base_folder=os.path.join(fixture))
    assert ck.load(step=mk.STEPS), "torchtitan's CheckpointManager did not load the fixture"
    assert state.step == mk.STEPS, state.step
    ck.close()
    model.eval()
    with torch.no_grad():
        return model(tokens).float(), {k: v.detach().clone() for k, v in model.state_dict().items()}, config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(ROOT, ".build", "debug", "ckpt"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "Tests", "Fixtures", "interop", "dcp-torchtitan-llama"))
    a = ap.parse_args()
    import torch

    import make_torchtitan_fixture as mk

    fixture = os.path.abspath(a.fixture)
    g = torch.Generator().manual_seed(mk.TOKENS_SEED)
    tokens = torch.randint(0, mk.SHAPE["vocab"], (2, 48), generator=g)
    ref, sd, config = titan_logits(fixture, tokens)

    out = tempfile.mkdtemp(prefix="tt-check-hf-")
    try:
        ok = check(a, fixture, tokens, ref, sd, config, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print("ok" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


def check(a, fixture: str, tokens, ref, sd: dict, config, out: str) -> bool:
    """Converts with ckpt into `out`, compares; prints one line per check."""
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    import make_torchtitan_fixture as mk
    from torchtitan.models.llama3 import Llama3StateDictAdapter

    hf = os.path.join(out, "hf")
    step = os.path.join(fixture, "checkpoint", "step-%d" % mk.STEPS)
    cmd = [a.ckpt, "convert", step, "--model-config", os.path.join(fixture, "job_config.json"), "--to", "hf", "--out", hf]
    r = subprocess.run(cmd, capture_output=True, text=True)
    print("$ " + " ".join(cmd) + "\n" + r.stdout.strip())
    if r.returncode != 0:
        print(r.stderr.strip())
        return False
    model = LlamaForCausalLM.from_pretrained(hf, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        got = model(tokens).logits.float()
    diff = (got - ref).abs().max().item()
    print(f"logits {tuple(ref.shape)}: max |torchtitan - transformers(ckpt --to hf)| = {diff:.3e} "
          f"(|logits| up to {ref.abs().max().item():.3f})")
    ok = diff < 1e-5

    # torchtitan's own converter on the tensors torchtitan loaded: ckpt's file must hold the same.
    want = Llama3StateDictAdapter(config.model_spec.model, None).to_hf(sd)
    files = [f for f in os.listdir(hf) if f.endswith(".safetensors")]
    have = {}
    for f in files:
        have.update(load_file(os.path.join(hf, f)))
    same = set(want) == set(have) and all(torch.equal(want[k], have[k]) for k in want)
    print(f"tensors: ckpt's hf output {'equals' if same else 'DIFFERS FROM'} torchtitan's Llama3StateDictAdapter.to_hf "
          f"({len(have)} tensors, bit for bit)")
    ok = ok and same
    # A wrong pairing must be visible: the same HF model with q/k left interleaved.
    with torch.no_grad():
        for i in range(mk.SHAPE["n_layers"]):
            attn = model.model.layers[i].self_attn
            attn.q_proj.weight.copy_(sd[f"layers.{i}.attention.qkv_linear.wq.weight"])
            attn.k_proj.weight.copy_(sd[f"layers.{i}.attention.qkv_linear.wk.weight"])
        wrong = (model(tokens).logits.float() - ref).abs().max().item()
    print(f"control: without the permutation the max |difference| is {wrong:.3e}")
    return ok and wrong > 10 * 1e-5


if __name__ == "__main__":
    main()
