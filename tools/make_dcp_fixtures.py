#!/usr/bin/env python3
"""Make the PyTorch DCP fixtures with the real library (venv python with torch, transformers,
zstandard; not run in CI).

    /work/venv/bin/python tools/make_dcp_fixtures.py [--out Tests/Fixtures/interop] [--only dcp-zstd,...]

Writes, under --out (see Tests/Fixtures/interop/README.md):
  dcp-state-dict/        torch.distributed.checkpoint.save of the HF GPT-2 state_dict (fp32) from
                         2 gloo ranks (torchrun), DTensors on a 1-D mesh: most tensors Shard(0)
                         (FSDP2's placement; the 101-row embedding splits 51 + 50), the attention
                         and MLP Conv1D weights Shard(1) (column blocks), LayerNorm biases
                         Replicate (one chunk, written once); FileSystemWriter(thread_count=2),
                         so each rank writes __R_0 and __R_1; bytes items `step`, `extra.*`;
                         config.json beside it
  dcp-zstd/              the same model in bfloat16, Shard(0) everywhere, saved with
                         FileSystemWriter(_extensions=[ZStandard()]): every item is the
                         zstd-compressed stream (transform_descriptors ["stream.zstd/1"])
  dcp-mcore-metadata/    a `.metadata` only, shaped as megatron-core 0.15 writes it: the class
                         megatron.core.dist_checkpointing.strategies.torch.MCoreMetadata holding
                         Metadata's fields plus `mcore_data` and `all_local_plans` (real
                         SavePlan/WriteItem objects from DefaultSavePlanner)
  dcp-safetensors/       a 2x3 tensor and an int saved in one process with
                         FileSystemWriter(serialization_format=SerializationFormat.SAFETENSORS):
                         the data file is the bytes items followed by a safetensors file (torch's
                         own FileSystemReader cannot load it; ckpt recognises and refuses it)
and in each an expected.json: every tensor's fingerprint (tools/interop_hash.py) as the ranks
held it before saving, its chunks as `.metadata` records them, each bytes item's decoded value
and the XXH3-64 of its item bytes, and the canonical (wafer) tensors of tools/interop_canonical.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")
ALL = ["dcp-state-dict", "dcp-zstd", "dcp-mcore-metadata", "dcp-safetensors"]


def placement_for(name: str, sharded_columns: bool):
    from torch.distributed.tensor import Replicate, Shard

    if not sharded_columns:
        return Shard(0)
    if name.endswith("c_attn.weight") or name.endswith("c_fc.weight"):
        return Shard(1)
    if name.endswith("ln_1.bias") or name.endswith("ln_2.bias") or name == "transformer.ln_f.bias":
        return Replicate()
    return Shard(0)


def bytes_items() -> dict:
    return {"step": 7, "extra": {"lr": 0.001, "tokens": [1, 2, 3], "name": "gpt2-tiny"}}


def worker(name: str, out_dir: str) -> None:
    """One torchrun rank: builds the model, distributes it and saves."""
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import distribute_tensor

    import make_interop_fixtures as mif

    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    model = mif.gpt2_model()
    bf16 = name == "dcp-zstd"
    if bf16:
        model = model.to(torch.bfloat16)
    sd = model.state_dict()
    state = {}
    for k, v in sd.items():
        state[k] = distribute_tensor(v.detach().clone(), mesh, [placement_for(k, not bf16)])
    state.update(bytes_items())
    if bf16:
        from torch.distributed.checkpoint._extension import ZStandard

        writer = dcp.FileSystemWriter(name, _extensions=[ZStandard()])
    else:
        writer = dcp.FileSystemWriter(name, thread_count=2)
    os.chdir(out_dir)  # a relative checkpoint_id: StorageMeta records the fixture's name, not a path
    dcp.save(state, storage_writer=writer)
    dist.barrier()
    dist.destroy_process_group()


def item_bytes(d: str, info) -> bytes:
    with open(os.path.join(d, info.relative_path), "rb") as f:
        f.seek(info.offset)
        raw = f.read(info.length)
    if getattr(info, "transform_descriptors", None):
        import zstandard

        assert list(info.transform_descriptors) == ["stream.zstd/1"], info.transform_descriptors
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw


def expected_for(name: str, d: str, notes: list[str]) -> dict:
    import torch
    import torch.distributed.checkpoint as dcp
    import xxhash

    import interop_canonical as canon
    import interop_hash
    import make_interop_fixtures as mif

    model = mif.gpt2_model()
    if name == "dcp-zstd":
        model = model.to(torch.bfloat16)
    sd = model.state_dict()
    md = dcp.FileSystemReader(d).read_metadata()
    chunks: dict = {}
    for idx, info in md.storage_data.items():
        rec = {"file": info.relative_path, "offset": info.offset, "length": info.length,
               "transforms": list(getattr(info, "transform_descriptors", None) or []),
               "item_xxh3_64": xxhash.xxh3_64_hexdigest(item_bytes(d, info))}
        if idx.offset is None:
            chunks[idx.fqn] = rec
        else:
            rec["offsets"] = list(idx.offset)
            chunks.setdefault(idx.fqn, []).append(rec)
    tensors, items = {}, {}
    for fqn, m in md.state_dict_metadata.items():
        if type(m).__name__ == "TensorStorageMetadata":
            r = interop_hash.record(sd[fqn])
            assert list(m.size) == r["shape"], (fqn, m.size)
            sizes = {tuple(c.offsets): list(c.sizes) for c in m.chunks}
            for c in chunks[fqn]:
                c["sizes"] = sizes[tuple(c["offsets"])]
            r["chunks"] = sorted(chunks[fqn], key=lambda c: c["offsets"])
            tensors[fqn] = r
        else:
            rec = chunks[fqn]
            rec["value"] = repr(torch.load(io.BytesIO(item_bytes(d, md.storage_data[
                next(i for i in md.storage_data if i.fqn == fqn)])), weights_only=True))
            items[fqn] = rec
    cfg = canon.config_from_hf(model.config.to_dict())
    can = canon.hf_gpt2(sd, cfg)
    return {"fixture": name, "made_by": "tools/make_dcp_fixtures.py", "versions": mif.versions(),
            "model_config": cfg, "version": md.version, "tensors": tensors, "bytes_items": items,
            "canonical": {"model": {k: interop_hash.record(v) for k, v in can.items()}, "optimizer": {}},
            "notes": notes}


def make_saved(out: str, name: str, port: int, notes: list[str]) -> None:
    import make_interop_fixtures as mif

    d = os.path.join(out, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           os.path.abspath(__file__), "--worker", name, "--out", out]
    subprocess.run(cmd, check=True, env=env, cwd=out)
    model = mif.gpt2_model()
    if name == "dcp-zstd":
        import torch

        model = model.to(torch.bfloat16)
    model.config.save_pretrained(d)
    mif.write_json(os.path.join(d, "expected.json"), expected_for(name, d, notes))


def make_mcore_metadata(out: str) -> None:
    """Megatron-core 0.15's `.metadata` shape, from real classes: MCoreMetadata with the fields
    of the dcp-state-dict Metadata, `mcore_data` and `all_local_plans` (a DefaultSavePlanner's
    local plan of a small state dict)."""
    import torch
    import torch.distributed.checkpoint as dcp
    from megatron.core.dist_checkpointing.strategies.torch import MCoreMetadata
    from torch.distributed.checkpoint.default_planner import DefaultSavePlanner

    import make_interop_fixtures as mif

    src = dcp.FileSystemReader(os.path.join(out, "dcp-state-dict")).read_metadata()
    planner = DefaultSavePlanner()
    planner.set_up_planner({"w": torch.zeros(4, 2, dtype=torch.bfloat16), "step": 3}, None, True)
    plan = planner.create_local_plan()
    m = MCoreMetadata()
    m.__dict__.update(src.__dict__)
    m.storage_meta.load_id = None
    m.mcore_data = {"transformer.wte.weight": {"nd_reformulated_orig_global_shape": (101, 32)}}
    m.all_local_plans = [plan, plan]
    d = os.path.join(out, "dcp-mcore-metadata")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, ".metadata"), "wb") as f:
        pickle.dump(m, f)
    mif.write_json(os.path.join(d, "expected.json"), {
        "fixture": "dcp-mcore-metadata", "made_by": "tools/make_dcp_fixtures.py", "versions": mif.versions(),
        "class": "megatron.core.dist_checkpointing.strategies.torch.MCoreMetadata",
        "tensors": sorted(k for k, v in src.state_dict_metadata.items() if type(v).__name__ == "TensorStorageMetadata"),
        "bytes_items": sorted(k for k, v in src.state_dict_metadata.items() if type(v).__name__ == "BytesStorageMetadata"),
        "storage_entries": len(src.storage_data), "plans": 2, "plan_items": len(plan.items),
        "notes": ["data files are those of dcp-state-dict (not copied): only .metadata is parsed"]})


def make_safetensors(out: str) -> None:
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.filesystem import SerializationFormat

    import make_interop_fixtures as mif

    d = os.path.join(out, "dcp-safetensors")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.chdir(out)
    w = dcp.FileSystemWriter("dcp-safetensors", serialization_format=SerializationFormat.SAFETENSORS)
    dcp.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "step": 3}, storage_writer=w, no_dist=True)
    md = dcp.FileSystemReader(d).read_metadata()
    info = next(v for k, v in md.storage_data.items() if k.fqn == "w")
    mif.write_json(os.path.join(d, "expected.json"), {
        "fixture": "dcp-safetensors", "made_by": "tools/make_dcp_fixtures.py", "versions": mif.versions(),
        "w": {"file": info.relative_path, "offset": info.offset, "length": info.length},
        "notes": ["torch 2.13's FileSystemReader fails on it (torch.load of safetensors bytes)"]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default="")
    ap.add_argument("--port", type=int, default=29651)
    ap.add_argument("--worker", default="")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    if a.worker:
        worker(a.worker, out)
        return
    only = set(a.only.split(",")) if a.only else set(ALL)
    if "dcp-state-dict" in only:
        make_saved(out, "dcp-state-dict", a.port, [
            "2 ranks; c_attn/c_fc weights Shard(1), ln_1/ln_2/ln_f biases Replicate, the rest Shard(0)",
            "lm_head.weight is tied to transformer.wte.weight in memory; DCP saves both FQNs"])
    if "dcp-zstd" in only:
        make_saved(out, "dcp-zstd", a.port + 1, [
            "bfloat16, 2 ranks, Shard(0) everywhere, every item zstd-compressed (stream.zstd/1)"])
    if "dcp-mcore-metadata" in only:
        make_mcore_metadata(out)
    if "dcp-safetensors" in only:
        make_safetensors(out)


if __name__ == "__main__":
    main()
