"""Minimal format-v1 helpers shared by the ReferenceCore tools (ref_make_fixture.py,
ref_inject_fault.py): write and rewrite tensors with their dtype/xxh3_64/codec attributes, read
them widened to float32, and keep the root attributes consistent. Tensors are written
contiguous with codec "none" (allowed by format v1); reading accepts any storage h5py can
decode (hdf5plugin registers zstd)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import h5py
import hdf5plugin  # noqa: F401  (registers the zstd filter for files written by ckpt)
import numpy as np
import xxhash

import ckpt_reader

WRITER = "ckpt-ref-tools 0.1.0"


def bf16_type() -> h5py.h5t.TypeFloatID:
    """HDF5 bfloat16: sign bit 15, exponent at 7 (8 bits), mantissa at 0 (7 bits), bias 127."""
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_offset(0)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    return t


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest, ties to even."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF
    return rounded.astype(np.uint16)


def from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns -> float32 (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_bf16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16, as float32."""
    return from_bf16_bits(to_bf16_bits(x))


def key_path(key: str) -> str:
    """'layers.0.attn.q.weight' -> '/model/layers/0/attn/q/weight';
    'optimizer.exp_avg.x.y' -> '/optimizer/exp_avg/x/y'."""
    if key.startswith("optimizer."):
        _, state, rest = key.split(".", 2)
        return "/optimizer/" + state + "/" + rest.replace(".", "/")
    return "/model/" + key.replace(".", "/")


def write_tensor(f: h5py.File, key: str, values: np.ndarray, dtype: str) -> None:
    """Writes (or replaces) one tensor: float32 values stored as `dtype` (float32, bfloat16)
    or int arrays as-is; attributes dtype, xxh3_64 of the logical bytes, codec none."""
    path = key_path(key)
    if path in f:
        del f[path]
    parent, name = path.rsplit("/", 1)
    group = f.require_group(parent)
    shape = tuple(values.shape)
    if dtype == "bfloat16":
        buf = to_bf16_bits(values)
        tid = bf16_type()
        space = h5py.h5s.create_simple(shape, shape) if shape else h5py.h5s.create(h5py.h5s.SCALAR)
        dsid = h5py.h5d.create(group.id, name.encode(), tid, space)
        if buf.size:
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(buf), mtype=tid)
        logical = buf
    else:
        np_dtype = {"float32": "<f4", "float64": "<f8", "int32": "<i4", "int64": "<i8"}[dtype]
        logical = np.ascontiguousarray(values, dtype=np_dtype)
        group.create_dataset(name, data=logical)
    ds = group[name]
    ds.attrs["dtype"] = dtype
    ds.attrs["xxh3_64"] = np.uint64(xxhash.xxh3_64_intdigest(logical.tobytes()))
    ds.attrs["codec"] = "none"


def dtype_of(f: h5py.File, key: str) -> str:
    """The logical dtype attribute of a tensor."""
    d = f[key_path(key)].attrs["dtype"]
    return d.decode() if isinstance(d, bytes) else str(d)


def read_tensor(f: h5py.File, key: str) -> np.ndarray:
    """A float tensor widened to float32 (bfloat16 exactly)."""
    ds = f[key_path(key)]
    if dtype_of(f, key) == "bfloat16":
        bits = np.empty(ds.shape, dtype=np.uint16)
        if bits.size:
            ds.id.read(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=ds.id.get_type())
        return from_bf16_bits(bits)
    return np.asarray(ds[()], dtype=np.float32)


def has(f: h5py.File, key: str) -> bool:
    return key_path(key) in f


def attr_str(f: h5py.File, name: str) -> str | None:
    if name not in f.attrs:
        return None
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def write_root(f: h5py.File, step: int, model_config: dict[str, Any], optimizer: dict[str, Any],
               user_metadata: dict[str, Any] | None = None) -> None:
    """Root attributes of format v1 (counts computed from the file's tensors)."""
    f.attrs["format"] = "ckpt"
    f.attrs["format_version"] = np.int64(1)
    f.attrs["writer"] = WRITER
    f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    f.attrs["step"] = np.int64(step)
    f.attrs["model_config"] = json.dumps(model_config, sort_keys=True)
    f.attrs["optimizer"] = json.dumps(optimizer, sort_keys=True)
    f.attrs["layout"] = json.dumps({"kind": "wafer"})
    if user_metadata is not None:
        f.attrs["user_metadata"] = json.dumps(user_metadata, sort_keys=True)
    update_counts(f)


def update_counts(f: h5py.File) -> None:
    """Recomputes `tensor_count` and `parameter_count`."""
    tensors = 0
    params = 0
    for group in ("model", "optimizer"):
        if group not in f:
            continue
        items: list[h5py.Dataset] = []
        f[group].visititems(lambda _n, o: items.append(o) if isinstance(o, h5py.Dataset) else None)
        tensors += len(items)
        if group == "model":
            params += sum(int(np.prod(d.shape)) for d in items)
    f.attrs["tensor_count"] = np.int64(tensors)
    f.attrs["parameter_count"] = np.int64(params)


def canonical_tensors(c: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Canonical parameter names and shapes of any family (formats/tensor-names.md): the one
    implementation, ckpt_reader.canonical_tensors."""
    return ckpt_reader.canonical_tensors(c)


def write_batch(path: str, inputs: np.ndarray, targets: np.ndarray) -> None:
    """A batch file (formats/batch-v1.md)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("inputs", data=np.ascontiguousarray(inputs, dtype="<i4"))
        f.create_dataset("targets", data=np.ascontiguousarray(targets, dtype="<i4"))
        f.attrs["format"] = "ckpt-batch"
        f.attrs["format_version"] = np.int64(1)
