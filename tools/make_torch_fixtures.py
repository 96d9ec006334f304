#!/usr/bin/env python3
"""Makes the tiny torch.save fixtures ckpt's reader is tested against.

Run once with the venv's python (torch, numpy, megatron-core):
    /work/venv/bin/python tools/make_torch_fixtures.py [OUT_DIR]
OUT_DIR defaults to Tests/Fixtures/interop/torch-misc. Writes state_dict.pt (a plain
torch.save(model.state_dict()), pytorch_model.bin style), misc.pt (every kind of value Megatron
and DCP files hold) and expected.json: for every tensor its path (dict keys and list indices
joined by '.'), dtype, shape, strides, storage offset, storage key, requires_grad, whether it is
an nn.Parameter, and its bytes (contiguous, little-endian, hex); plus the raw values of the
non-tensor entries the Swift tests check.
"""
import argparse
import collections
import io
import json
import os
import random
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
from megatron.core.transformer.enums import AttnBackend  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "interop", "torch-misc")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


def describe(value, path=""):
    """Every tensor under value with the path ckpt's tensorsWithPaths gives it."""
    out = {}
    def join(p, k):
        return str(k) if p == "" else f"{p}.{k}"
    if isinstance(value, torch.Tensor):
        t = value
        raw = t.detach().contiguous().reshape(-1).view(torch.uint8) if t.numel() else torch.zeros(0, dtype=torch.uint8)
        out[path] = {
            "dtype": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape),
            "stride": list(t.stride()),
            "offset": t.storage_offset(),
            "requires_grad": t.requires_grad,
            "is_parameter": isinstance(t, torch.nn.Parameter),
            "storage_bytes": t.untyped_storage().nbytes(),
            "hex": raw.numpy().tobytes().hex(),
        }
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(describe(v, join(path, k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out.update(describe(v, join(path, i)))
    return out


# --- state_dict.pt: a small module's state_dict (OrderedDict with _metadata), bf16 and fp32,
# a tied weight (two names, one storage) and a buffer.
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(10, 4)
        self.ln = torch.nn.LayerNorm(4)
        self.fc = torch.nn.Linear(4, 6).to(torch.bfloat16)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.wte.weight
        self.register_buffer("steps", torch.tensor([3], dtype=torch.int64))


sd = Tiny().state_dict()
torch.save(sd, os.path.join(OUT, "state_dict.pt"))

# --- misc.pt
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
misc = {
    "bf16": torch.randn(3, 5).to(torch.bfloat16),
    "f8": torch.tensor([0.5, -1.0, 2.0, 448.0]).to(torch.float8_e4m3fn),
    "u16": torch.tensor([1, 2, 65535], dtype=torch.int32).to(torch.uint16),
    "base": base,
    "view_offset": base[1:],
    "row_view": base[2],
    "transposed": base.t(),
    "column": base[:, 3],
    "param": torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float16)),
    "frozen": torch.nn.Parameter(torch.full((3,), 2.0), requires_grad=False),
    "args": argparse.Namespace(params_dtype=torch.bfloat16, attention_backend=AttnBackend.flash, num_layers=2, lr=1.5e-4, name="gpt"),
    "np_state": ("MT19937", np.arange(624, dtype=np.uint32) * 7919, 624, 0, 0.0),
    "bytes": b"\x00\x01\xffabc",
    "bytesio": io.BytesIO(b"extra state"),
    "od": collections.OrderedDict([("z", 1), ("a", 2)]),
    "big": 2**100 + 1,
    "neg_big": -(2**65),
    "nested": [1, (2.5, [None, True]), {"k": (3,)}],
    "random_state": random.Random(5).getstate(),
    "torch_rng": torch.get_rng_state(),
    "empty": torch.zeros(0),
    "scalar": torch.tensor(3.5, dtype=torch.float64),
    "ints": torch.tensor([[1, -2], [3, -4]], dtype=torch.int8),
    "mask": torch.tensor([True, False, True]),
}
torch.save(misc, os.path.join(OUT, "misc.pt"))

expected = {
    "state_dict.pt": {"prefix": "state_dict", "keys": list(sd.keys()), "tensors": describe(sd)},
    "misc.pt": {
        "prefix": "misc",
        "keys": list(misc.keys()),
        "tensors": describe(misc),
        "np_state_hex": misc["np_state"][1].tobytes().hex(),
        "random_state_first": list(misc["random_state"][1][:4]),
        "random_state_len": len(misc["random_state"][1]),
        "big": str(misc["big"]),
        "neg_big": str(misc["neg_big"]),
    },
}
# --- dcp/: a PyTorch DCP checkpoint (pickle protocol 4 .metadata of dataclasses; each item of
# __0_0.distcp a complete torch.save zip at an offset).
import shutil  # noqa: E402
import torch.distributed.checkpoint as dcp  # noqa: E402

dcp_dir = os.path.join(OUT, "dcp")
shutil.rmtree(dcp_dir, ignore_errors=True)
dcp_sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "step": 3}
dcp.save(dcp_sd, checkpoint_id=dcp_dir, no_dist=True)
md = dcp.FileSystemReader(dcp_dir).read_metadata()
expected["dcp"] = {
    "items": {
        idx.fqn: {"file": info.relative_path, "offset": info.offset, "length": info.length}
        for idx, info in md.storage_data.items()
    },
    "w_size": list(md.state_dict_metadata["w"].size),
    "w_hex": dcp_sd["w"].numpy().tobytes().hex(),
}

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
for name in ("state_dict.pt", "misc.pt"):
    print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")
