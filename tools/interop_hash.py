"""Tensor fingerprints for the interop fixtures' expected.json (venv python: torch, xxhash).

A record is {"dtype": torch dtype name without "torch." (e.g. "bfloat16", "float32"),
"shape": [dims], "xxh3_64": 16 hex digits of XXH3-64 (seed 0) over the tensor's raw
little-endian bytes in row-major (contiguous) order}.
"""

from __future__ import annotations

import sys

import torch
import xxhash

if sys.byteorder != "little":
    raise SystemExit("interop_hash: the fingerprints are defined on little-endian bytes")


def raw_bytes(t: torch.Tensor) -> bytes:
    """The tensor's elements as contiguous little-endian bytes."""
    t = t.detach().cpu().contiguous()
    if t.numel() == 0:
        return b""
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def xxh3(t: torch.Tensor) -> str:
    """XXH3-64 hex of raw_bytes(t)."""
    return xxhash.xxh3_64_hexdigest(raw_bytes(t))


def dtype_name(dt: torch.dtype) -> str:
    """"bfloat16" for torch.bfloat16, and so on."""
    return str(dt).removeprefix("torch.")


def record(t: torch.Tensor) -> dict:
    """{"dtype", "shape", "xxh3_64"} of one tensor."""
    return {"dtype": dtype_name(t.dtype), "shape": list(t.shape), "xxh3_64": xxh3(t)}
