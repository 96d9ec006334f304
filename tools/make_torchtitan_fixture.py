#!/usr/bin/env python3
"""Make the torchtitan DCP fixture with the real library (torchtitan 0.3.0 on CPU; not run in CI).

    /work/venv-tt/bin/python tools/make_torchtitan_fixture.py [--out Tests/Fixtures/interop]

The venv: `python -m venv /work/venv-tt` with a .pth line pointing at /work/venv's site-packages
(torch 2.13 CPU, transformers), then `pip install --no-deps torchtitan==0.3.0 spmd_types==0.2.3
torchdata==0.11.0 triton` and `pip install tyro tensorboard "datasets<4.8"` (torchtitan imports them
at module level; nothing here uses a GPU).

Writes dcp-torchtitan-llama/ under --out, laid out as torchtitan's dump folder:
  job_config.json         torchtitan's own `Trainer.Config.maybe_log()` with
                          `--debug.save_config_file job_config.json` (Trainer.Config.to_dict())
  checkpoint/step-2/      torchtitan's CheckpointManager.save(2) (interval 1,
                          last_save_model_only False): `.metadata`, `__0_0.distcp`, `__1_0.distcp`
  expected.json           every tensor as the ranks held it (full tensors), the bytes items, the
                          canonical (wafer) tensors computed with torchtitan's own HF adapter
                          (Llama3StateDictAdapter.to_hf, its per-head q/k permutation) and
                          FusedQKVLinear's save hook, and tools/interop_canonical.py

The model is torchtitan's Llama3Model built with its own llama3 builders (`_build_llama3_layers`,
fused QKV as every llama3 preset) at a tiny shape: 2 layers, dim 64, 4 heads, 2 KV heads, SwiGLU
hidden 48, vocab 96, ComplexRoPE theta 500000 without scaling, RMSNorm eps 1e-6, untied head. Two
gloo ranks shard it with torchtitan's apply_fsdp_to_decoder (FSDP2, Shard(0)); each rank trains 2
steps on its own random tokens with torchtitan's OptimizersContainer (default_adamw: AdamW, lr
1e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1), LRSchedulersContainer (warmup 2) and its
clip_grad_norm_ (max_norm 1.0), as Trainer.train_step does. Differences from a GPU run, both outside
the checkpoint: attention is torchtitan's ScaledDotProductAttention (flex attention needs
torch.compile, which is not worth it on 2 CPU cores; it holds no parameters), and FSDP's
reduce-scatter uses sum reductions (`set_force_sum_reduction_for_comms`: gloo has no PREMUL_SUM).
The Trainer itself is not run (its dataloader and tokenizer need assets the wheel lacks); its
components are built from the same Trainer.Config the way Trainer.__init__ builds them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")
NAME = "dcp-torchtitan-llama"
STEPS = 2
WORLD = 2
SHAPE = {"dim": 64, "n_heads": 4, "n_kv_heads": 2, "n_layers": 2, "vocab": 96, "hidden": 48,
         "theta": 500000.0, "eps": 1e-6, "max_seq_len": 64}
TOKENS_SEED = 7  # the logits check's tokens (tools/torchtitan_check.py)


def model_config():
    """torchtitan's Llama3Model.Config of the fixture, built with its llama3 builders."""
    from torchtitan.models.common import ComplexRoPE, Embedding, Linear, RMSNorm, compute_ffn_hidden_dim
    from torchtitan.models.common.attention import ScaledDotProductAttention
    from torchtitan.models.llama3 import (Llama3Model, _EMBEDDING_INIT, _NORM_INIT, _build_llama3_layers,
                                          _output_linear_init)

    s = SHAPE
    dim, vocab = s["dim"], s["vocab"]
    hidden = compute_ffn_hidden_dim(dim, multiple_of=16, ffn_dim_multiplier=0.25)
    assert hidden == s["hidden"], hidden
    norm = dict(normalized_shape=dim, eps=s["eps"], param_init=_NORM_INIT)
    layers = _build_llama3_layers(
        fuse_qkv=True, n_layers=s["n_layers"], dim=dim, n_heads=s["n_heads"], n_kv_heads=s["n_kv_heads"],
        hidden_dim=hidden,
        rope=ComplexRoPE.Config(dim=dim // s["n_heads"], max_seq_len=s["max_seq_len"], theta=s["theta"], scaling="none"),
        attn_backend="flex")
    for layer in layers:
        layer.attention.inner_attention = ScaledDotProductAttention.Config()
        layer.attention_norm = RMSNorm.Config(**norm)
        layer.ffn_norm = RMSNorm.Config(**norm)
    return Llama3Model.Config(
        dim=dim, vocab_size=vocab,
        tok_embeddings=Embedding.Config(num_embeddings=vocab, embedding_dim=dim, param_init=_EMBEDDING_INIT),
        norm=RMSNorm.Config(**norm),
        lm_head=Linear.Config(in_features=dim, out_features=vocab, param_init=_output_linear_init(dim)),
        layers=layers)


def trainer_config(dump_folder: str):
    """The Trainer.Config a user would run (its to_dict() is job_config.json)."""
    from torchtitan.components.checkpoint import CheckpointManager
    from torchtitan.components.optimizer import LRSchedulersContainer, default_adamw
    from torchtitan.config import ParallelismConfig, TrainingConfig
    from torchtitan.config.configs import DebugConfig
    from torchtitan.models.llama3 import Llama3StateDictAdapter, parallelize_llama
    from torchtitan.protocols.model_spec import ModelSpec
    from torchtitan.trainer import Trainer

    spec = ModelSpec(name="llama3", flavor="ckpt-fixture", model=model_config(), parallelize_fn=parallelize_llama,
                     pipelining_fn=None, post_optimizer_build_fn=None, state_dict_adapter=Llama3StateDictAdapter)
    return Trainer.Config(
        model_spec=spec, dump_folder=dump_folder,
        optimizer=default_adamw(lr=1e-3),
        lr_scheduler=LRSchedulersContainer.Config(warmup_steps=2, decay_ratio=0.8, decay_type="linear", min_lr_factor=0.0),
        training=TrainingConfig(local_batch_size=2, seq_len=16, steps=STEPS, max_norm=1.0),
        parallelism=ParallelismConfig(data_parallel_shard_degree=WORLD),
        checkpoint=CheckpointManager.Config(enable=True, folder="checkpoint", interval=1, last_save_model_only=False),
        debug=DebugConfig(save_config_file="job_config.json"))


class TrainState:
    """What Trainer contributes as `train_state` (its state_dict / load_state_dict)."""

    def __init__(self):
        self.step = 0
        self.ntokens_seen = 0

    def state_dict(self):
        return {"step": self.step, "ntokens_seen": self.ntokens_seen}

    def load_state_dict(self, sd):
        self.step = sd["step"]
        self.ntokens_seen = sd["ntokens_seen"]


def build(config, world: int):
    """Model (FSDP2-sharded over `world` gloo ranks), optimizers, schedulers and the checkpoint
    manager, as Trainer.__init__ builds them from `config`."""
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule
    from torchtitan.distributed.fsdp import apply_fsdp_to_decoder

    torch.manual_seed(0)
    model = config.model_spec.model.build()
    model.init_states()
    mesh = init_device_mesh("cpu", (world,), mesh_dim_names=("dp_shard",))
    apply_fsdp_to_decoder(model, mesh, param_dtype=torch.float32, reduce_dtype=torch.float32, pp_enabled=False)
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.set_force_sum_reduction_for_comms(True)  # gloo has no PREMUL_SUM
    optimizers = config.optimizer.build(model_parts=[model])
    lr_schedulers = config.lr_scheduler.build(optimizers=optimizers, training_steps=config.training.steps)
    state = TrainState()
    checkpointer = config.checkpoint.build(
        dataloader=None, model_parts=[model], optimizers=optimizers, lr_schedulers=lr_schedulers,
        states={"train_state": state}, sd_adapter=config.model_spec.state_dict_adapter(config.model_spec.model, None),
        base_folder=config.dump_folder)
    return model, optimizers, lr_schedulers, state, checkpointer


def worker(rank: int, world: int, dump: str, port: int) -> None:
    import torch
    import torch.distributed as dist
    from torchtitan.distributed.utils import clip_grad_norm_

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    config = trainer_config(dump)
    config.maybe_log()  # rank 0 writes job_config.json
    model, optimizers, lr_schedulers, state, checkpointer = build(config, world)
    vocab, seq = SHAPE["vocab"], config.training.seq_len
    g = torch.Generator().manual_seed(100 + rank)
    for _ in range(STEPS):
        state.step += 1
        tokens = torch.randint(0, vocab, (config.training.local_batch_size, seq + 1), generator=g)
        optimizers.zero_grad()
        logits = model(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab).float(), tokens[:, 1:].reshape(-1))
        loss.backward()
        clip_grad_norm_([p for p in model.parameters()], config.training.max_norm, foreach=True)
        optimizers.step()
        lr_schedulers.step()
        state.ntokens_seen += tokens[:, 1:].numel()
    checkpointer.save(state.step, last_step=False)
    # What the ranks held, for expected.json: full tensors of every model and optimizer entry.
    held = {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in checkpointer.states["model"].state_dict().items()}
    optim = {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in optimizers.state_dict().items()}
    if rank == 0:
        torch.save({"model": held, "optimizer": optim, "train_state": state.state_dict(),
                    "lr_scheduler": lr_schedulers.state_dict()}, os.path.join(dump, "held.pt"))
    checkpointer.close()
    dist.barrier()
    dist.destroy_process_group()


def versions() -> dict:
    import importlib.metadata as md

    import torch

    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchtitan": md.version("torchtitan"),
            "transformers": md.version("transformers"), "spmd_types": md.version("spmd_types")}


def canonical_of(held_model: dict, held_optim: dict, config) -> tuple[dict, dict]:
    """The canonical tensors, independently of ckpt's tables: torchtitan's own HF adapter (which
    permutes wq/wk per head from its interleaved RoPE pairs to HF's rotate-half halves), then
    tools/interop_canonical.py's HF LLaMA mapping. Adam moments are keyed by parameter (the fused
    wqkv); FusedQKVLinear's own save hook splits them like the weights first."""
    from torchtitan.models.common.attention import FusedQKVLinear
    from torchtitan.models.llama3 import Llama3StateDictAdapter

    import interop_canonical as canon

    spec = config.model_spec
    adapter = Llama3StateDictAdapter(spec.model, None)
    s = SHAPE
    cfg = {"family": "llama", "layers": s["n_layers"], "hidden": s["dim"], "heads": s["n_heads"],
           "kv_heads": s["n_kv_heads"], "ffn": s["hidden"], "vocab": s["vocab"], "max_seq": s["max_seq_len"],
           "norm_eps": s["eps"], "activation": "swiglu", "tie_embeddings": False, "norm": "rmsnorm",
           "position": "rope", "rope_theta": s["theta"], "bias": False}
    model = canon.hf_llama(adapter.to_hf(dict(held_model)), cfg)
    hd = s["dim"] // s["n_heads"]

    class Fused:  # the attributes FusedQKVLinear._split_qkv_on_save reads from its module
        head_dim, heads_per_kv = hd, s["n_heads"] // s["n_kv_heads"]
        r_dim = s["n_heads"] // s["n_kv_heads"] + 2

    moments = {}
    for state in ("exp_avg", "exp_avg_sq"):
        sd = {k[len("state."):-len("." + state)]: v for k, v in held_optim.items()
              if k.startswith("state.") and k.endswith("." + state)}
        for i in range(s["n_layers"]):
            FusedQKVLinear._split_qkv_on_save(Fused, sd, f"layers.{i}.attention.qkv_linear.", None)
        moments[state] = canon.hf_llama(adapter.to_hf(sd), cfg)
    return cfg, {"model": model, **{"optimizer/" + k: v for k, v in moments.items()}}


def expected(d: str, dump: str, config) -> dict:
    import torch
    import torch.distributed.checkpoint as dcp
    import xxhash

    import interop_hash

    held = torch.load(os.path.join(dump, "held.pt"), weights_only=True)
    md = dcp.FileSystemReader(d).read_metadata()
    chunks: dict = {}
    for idx, info in md.storage_data.items():
        with open(os.path.join(d, info.relative_path), "rb") as f:
            f.seek(info.offset)
            raw = f.read(info.length)
        rec = {"file": info.relative_path, "offset": info.offset, "length": info.length,
               "item_xxh3_64": xxhash.xxh3_64_hexdigest(raw)}
        if idx.offset is None:
            rec["value"] = repr(torch.load(io.BytesIO(raw), weights_only=True))
            chunks[idx.fqn] = rec
        else:
            rec["offsets"] = list(idx.offset)
            chunks.setdefault(idx.fqn, []).append(rec)
    flat = dict(held["model"])
    flat.update({"optimizer." + k: v for k, v in held["optimizer"].items()})
    tensors, items = {}, {}
    for fqn, m in md.state_dict_metadata.items():
        if type(m).__name__ == "TensorStorageMetadata":
            r = interop_hash.record(flat[fqn])
            assert list(m.size) == r["shape"], (fqn, m.size)
            sizes = {tuple(c.offsets): list(c.sizes) for c in m.chunks}
            for c in chunks[fqn]:
                c["sizes"] = sizes[tuple(c["offsets"])]
            r["chunks"] = sorted(chunks[fqn], key=lambda c: c["offsets"])
            tensors[fqn] = r
        else:
            items[fqn] = chunks[fqn]
    cfg, can = canonical_of(held["model"], held["optimizer"], config)
    steps = {float(v) for k, v in held["optimizer"].items() if k.endswith(".step")}
    assert steps == {float(STEPS)}, steps
    group = {k.rsplit(".", 1)[1]: v for k, v in held["optimizer"].items() if k.startswith("param_groups.norm.weight.")}
    return {
        "fixture": NAME, "made_by": "tools/make_torchtitan_fixture.py", "versions": versions(),
        "checkpoint": "checkpoint/step-%d" % STEPS, "job_config": "job_config.json",
        "model_config": cfg, "step": STEPS, "train_state": held["train_state"],
        "lr_scheduler": {k: v for k, v in held["lr_scheduler"].items()},
        "optimizer": {"lr": group["lr"], "betas": list(group["betas"]), "eps": group["eps"],
                      "weight_decay": group["weight_decay"], "max_norm": config.training.max_norm},
        "tensors": tensors, "bytes_items": items,
        "canonical": {sec: {k: interop_hash.record(v) for k, v in t.items()} for sec, t in can.items()},
        "logits_tokens": {"seed": TOKENS_SEED, "shape": [2, 48]},
        "notes": [
            "FSDP2 over 2 gloo ranks: every parameter Shard(0); wq/wk/wv are made by FusedQKVLinear's "
            "state_dict hook from the fused wqkv parameter (redistributed to Replicate, one chunk each)",
            "optimizer state is keyed by parameter: optimizer.state.<fqn>.{step,exp_avg,exp_avg_sq}, with "
            "layers.{i}.attention.qkv_linear.wqkv.weight fused as [kv group: q heads, k, v]",
            "optimizer.param_groups.<fqn>.<key> and train_state/lr_scheduler/dataloader are bytes items",
            "canonical: torchtitan's Llama3StateDictAdapter.to_hf (per-head q/k permutation) + "
            "tools/interop_canonical.py hf_llama"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--port", type=int, default=29671)
    a = ap.parse_args()
    import torch.multiprocessing as mp

    out = os.path.join(os.path.abspath(a.out), NAME)
    dump = tempfile.mkdtemp(prefix="tt-fixture-")
    try:
        mp.spawn(worker, args=(WORLD, dump, a.port), nprocs=WORLD)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(os.path.join(out, "checkpoint"))
        src = os.path.join(dump, "checkpoint", "step-%d" % STEPS)
        shutil.copytree(src, os.path.join(out, "checkpoint", "step-%d" % STEPS))
        shutil.copy(os.path.join(dump, "job_config.json"), os.path.join(out, "job_config.json"))
        e = expected(os.path.join(out, "checkpoint", "step-%d" % STEPS), dump, trainer_config(dump))
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(e, f, indent=1, sort_keys=True)
            f.write("\n")
    finally:
        shutil.rmtree(dump, ignore_errors=True)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(out) for n in ns)
    print(f"{out}: {total} bytes")


if __name__ == "__main__":
    main()
