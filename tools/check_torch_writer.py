#!/usr/bin/env python3
"""Loads the archives ckpt's TorchArchiveWriter wrote (see tools/check_torch_writer.sh) with the
real torch and compares them with the manifest the Swift test left beside them.

    /work/venv/bin/python tools/check_torch_writer.py DIR

Every file is loaded four ways: torch.load(weights_only=True); with map_location="meta" (torch
then computes each storage's offset from the zip layout, as miniz lays it out); with mmap=True;
and with mmap plus torch.utils.serialization.config.load.calculate_storage_offsets=True (the
offsets computed from the layout are used to read the bytes). TORCH_SERIALIZATION_DEBUG=1 makes
torch assert every computed offset against the local header's. Megatron's args need its safe globals (argparse.Namespace
and the enum), registered as Megatron's register_safe_globals() does. Exits 1 on any mismatch.
"""
import argparse
import json
import os
import sys
import warnings

# torch then checks every storage offset it computes from the zip layout against the one it
# reads from the local header (a RuntimeError when they differ).
os.environ["TORCH_SERIALIZATION_DEBUG"] = "1"
import torch  # noqa: E402

warnings.filterwarnings("ignore")
from megatron.core.transformer.enums import AttnBackend  # noqa: E402

torch.serialization.add_safe_globals([argparse.Namespace, AttnBackend])

DIR = sys.argv[1]
manifest = json.load(open(os.path.join(DIR, "manifest.json")))
failures = []


def walk(value, path=""):
    out = {}
    join = (lambda p, k: str(k) if p == "" else f"{p}.{k}")
    if isinstance(value, torch.Tensor):
        out[path] = value
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(walk(v, join(path, k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out.update(walk(v, join(path, i)))
    elif isinstance(value, argparse.Namespace):
        out.update(walk(vars(value), path))
    return out


def check(name, mode, obj, meta=False):
    want = manifest[name]["tensors"]
    got = walk(obj)
    if set(got) != set(want):
        failures.append(f"{name} [{mode}]: tensors {sorted(got)} != {sorted(want)}")
        return
    for path, w in want.items():
        t = got[path]
        desc = f"{name} [{mode}] {path}"
        if str(t.dtype).removeprefix("torch.") != w["dtype"]:
            failures.append(f"{desc}: dtype {t.dtype} != {w['dtype']}")
        if list(t.shape) != w["shape"] or list(t.stride()) != w["stride"] or t.storage_offset() != w["offset"]:
            failures.append(f"{desc}: shape/stride/offset {list(t.shape)} {list(t.stride())} {t.storage_offset()} != {w['shape']} {w['stride']} {w['offset']}")
        if t.requires_grad != w["requires_grad"] or isinstance(t, torch.nn.Parameter) != w["is_parameter"]:
            failures.append(f"{desc}: requires_grad/Parameter {t.requires_grad} {isinstance(t, torch.nn.Parameter)}")
        if not meta:
            raw = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes().hex() if t.numel() else ""
            if raw != w["hex"]:
                failures.append(f"{desc}: bytes {raw} != {w['hex']}")


def extra_checks(name, obj):
    if name == "model_optim_rng.pt":
        a = obj["args"]
        ok = (a.params_dtype is torch.bfloat16 and a.attention_backend is AttnBackend(5) and a.num_layers == 2 and a.lr == 1.5e-4
              and a.seq_length is None and obj["checkpoint_version"] == 3.0 and obj["iteration"] == 1000
              and obj["rng_state"][0]["blob"] == b"\x00\x01\x7f\x80\xff" and obj["rng_state"][0]["empty_blob"] == b""
              and obj["rng_state"][0]["random_rng_state"] == (3, (2147483648, 4294967295, -1), None)
              and obj["big"] == 2**100 + 1 and obj["neg"] == -(2**40) and obj["tags"] == {"a", "b"}
              and obj["nested"] == [(), (1,), (1, 2, 3, 4)] and type(obj["model"]).__name__ == "OrderedDict"
              and list(obj["model"]) == ["embedding.word_embeddings.weight", "decoder.final_layernorm.weight"])
        if not ok:
            failures.append(f"{name}: non-tensor values differ: {obj}")


for name in sorted(manifest):
    path = os.path.join(DIR, name)
    obj = torch.load(path, weights_only=True)
    check(name, "weights_only", obj)
    extra_checks(name, obj)
    check(name, "meta", torch.load(path, weights_only=True, map_location="meta"), meta=True)
    check(name, "mmap", torch.load(path, weights_only=True, mmap=True))
    from torch.utils.serialization import config
    config.load.calculate_storage_offsets = True
    try:
        check(name, "mmap+calculate_storage_offsets", torch.load(path, weights_only=True, mmap=True))
    finally:
        config.load.calculate_storage_offsets = False
    print(f"{name}: {len(manifest[name]['tensors'])} tensors checked")

print(f"torch {torch.__version__}: {len(manifest)} files, {len(failures)} failures")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
