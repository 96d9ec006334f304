#!/usr/bin/env python3
"""Cross-check ckpt's HDF5 files against stock h5py + hdf5plugin (format v1).

Subcommands (exit status 0 = all good, 1 = problems found, 2 = usage or I/O error):

``check FILE [--chunk-bytes N] [--no-raw]``
    Open a checkpoint written by ckpt using only h5py + hdf5plugin and check it against
    formats/checkpoint-v1.md: every tensor under /model and /optimizer is read and its xxh3_64
    recomputed; the ``dtype`` attribute must match the HDF5 type; the filter pipeline must be
    shuffle(2) -> zstd(32015) -> Fletcher32(3) for ``zstd:L``, Fletcher32 alone for ``none``,
    nothing for 0-d/empty tensors; the chunk shape must follow the chunk rule; raw chunks must all
    be present with filter mask 0, a correct trailing Fletcher-32 and zero-padded edge chunks
    (skip with ``--no-raw``); root attributes must be well-typed and consistent; a v1.1
    ``metadata_xxh3_64`` must match the metadata serialisation. Prints one line per
    problem and ``N passed, M failed``.

``write FILE [--seed N] [--v1-storage] [--canonical-only]``
    Write a checkpoint with h5py that follows the format-v1 metadata (root attributes, per-dataset
    ``dtype``/``xxh3_64``/``codec``) but uses foreign storage choices a reader must still handle:
    2-D chunks that are not flat ranges, partial edge chunks in several dimensions, zstd with and
    without shuffle, with and without Fletcher32, deflate, contiguous, compact and extendible
    datasets, every dtype, 0-d and empty tensors, and (format v1.1) ``format_minor`` and
    ``metadata_xxh3_64`` unless ``--no-metadata-checksum``. Also writes ``FILE.expected.json`` mapping each
    tensor key to ``{"dtype", "shape", "xxh3_64"}`` (xxh3_64 as a ``0x``-prefixed hex string).
    ``--v1-storage`` instead stores every tensor exactly as ckpt does (chunk rule, zstd:1
    pipeline), which ``check`` must accept; ``--canonical-only`` leaves out the ``extra.*``
    tensors that are not parameters of the tiny GPT-2 model described by ``model_config``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
from typing import Any, Callable

import h5py
import hdf5plugin  # noqa: F401  (registers the zstd filter)
import ml_dtypes
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt_reader as cr  # noqa: E402

# ----------------------------------------------------------------------------------------------
# check


class Report:
    """Collects problems per checked item and prints them as they are found."""

    def __init__(self, path: str):
        self.path = path
        self.passed = 0
        self.failed = 0
        self._current: list[str] = []

    def problem(self, item: str, message: str) -> None:
        """Record (and print) one problem of an item."""
        print(f"{self.path}: {item}: {message}")
        self._current.append(message)

    def done(self) -> None:
        """Close the current item: it passed if no problem was recorded since the last call."""
        if self._current:
            self.failed += 1
        else:
            self.passed += 1
        self._current = []


def _attr_type(obj: h5py.HLObject, name: str) -> h5py.h5t.TypeID:
    return obj.attrs.get_id(name).get_type()


def _is_vlen_utf8_string(tid: h5py.h5t.TypeID) -> bool:
    return (isinstance(tid, h5py.h5t.TypeStringID) and tid.is_variable_str()
            and tid.get_cset() == h5py.h5t.CSET_UTF8)


def _is_scalar_attr(obj: h5py.HLObject, name: str) -> bool:
    return obj.attrs.get_id(name).shape == ()


def _check_int_attr(rep: Report, obj: h5py.HLObject, item: str, name: str, signed: bool = True) -> int | None:
    if name not in obj.attrs:
        rep.problem(item, f"missing attribute {name}")
        return None
    tid = _attr_type(obj, name)
    want = "int64" if signed else "uint64"
    if not (isinstance(tid, h5py.h5t.TypeIntegerID) and tid.get_size() == 8
            and tid.get_order() == h5py.h5t.ORDER_LE
            and (tid.get_sign() == h5py.h5t.SGN_2) == signed and not isinstance(tid, h5py.h5t.TypeEnumID)):
        rep.problem(item, f"attribute {name} is not a little-endian {want}")
    if not _is_scalar_attr(obj, name):
        rep.problem(item, f"attribute {name} is not scalar")
        return None
    return int(obj.attrs[name])


def _check_str_attr(rep: Report, obj: h5py.HLObject, item: str, name: str, required: bool = True) -> str | None:
    if name not in obj.attrs:
        if required:
            rep.problem(item, f"missing attribute {name}")
        return None
    if not _is_vlen_utf8_string(_attr_type(obj, name)):
        rep.problem(item, f"attribute {name} is not a variable-length UTF-8 string")
    if not _is_scalar_attr(obj, name):
        rep.problem(item, f"attribute {name} is not scalar")
    return cr._attr_str(obj.attrs[name])


def _check_json_attr(rep: Report, obj: h5py.HLObject, item: str, name: str, required: bool) -> Any:
    text = _check_str_attr(rep, obj, item, name, required)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        rep.problem(item, f"attribute {name} is not valid JSON ({e})")
        return None


_MODEL_CONFIG_KEYS = {
    "family": str, "layers": int, "hidden": int, "heads": int, "kv_heads": int, "ffn": int,
    "vocab": int, "max_seq": int, "norm_eps": (int, float), "activation": str, "tie_embeddings": bool,
    "norm": str, "position": str, "rope_theta": (int, float), "bias": bool,
}
_OPTIMIZER_KEYS = {
    "variant": str, "lr": (int, float), "beta1": (int, float), "beta2": (int, float), "eps": (int, float),
    "weight_decay": (int, float), "grad_clip": (int, float), "decay": str,
}


def _check_json_keys(rep: Report, item: str, what: str, doc: Any, keys: dict[str, Any]) -> None:
    if not isinstance(doc, dict):
        rep.problem(item, f"{what} is not a JSON object")
        return
    for key, typ in keys.items():
        if key not in doc:
            rep.problem(item, f"{what} lacks key {key}")
        elif not isinstance(doc[key], typ) or (typ is int and isinstance(doc[key], bool)):
            rep.problem(item, f"{what}.{key} has the wrong JSON type ({doc[key]!r})")


def _expected_filters(codec: str | None, elem_size: int) -> list[tuple[int, tuple[int, ...]]] | None:
    if codec == "none":
        return [(cr.FLETCHER32_FILTER_ID, ())]
    if codec and codec.startswith("zstd:"):
        level = codec.split(":", 1)[1]
        if not level.lstrip("-").isdigit():
            return None
        return [(cr.SHUFFLE_FILTER_ID, (elem_size,)), (cr.ZSTD_FILTER_ID, (int(level),)),
                (cr.FLETCHER32_FILTER_ID, ())]
    return None


def _decode_chunk(ds: h5py.Dataset, chunk: tuple[int, ...], raw: bytes) -> np.ndarray:
    """Decode one raw chunk through HDF5 itself (in-memory file, same type and pipeline)."""
    with h5py.File(f"chunk-{id(raw)}", "w", driver="core", backing_store=False) as mem:
        dcpl = ds.id.get_create_plist()
        space = h5py.h5s.create_simple(chunk, chunk)
        dsid = h5py.h5d.create(mem.id, b"c", ds.id.get_type(), space, dcpl=dcpl)
        dsid.write_direct_chunk((0,) * len(chunk), raw, 0)
        return cr.read_dataset(mem["c"])


def _check_raw_chunks(rep: Report, ds: h5py.Dataset, item: str, chunk: tuple[int, ...], has_fletcher: bool) -> None:
    shape = ds.shape
    want = math.prod(math.ceil(n / c) for n, c in zip(shape, chunk))
    have = ds.id.get_num_chunks()
    if have != want:
        rep.problem(item, f"{have} chunks allocated, expected {want}")
    for i in range(have):
        info = ds.id.get_chunk_info(i)
        if info.filter_mask != 0:
            rep.problem(item, f"chunk at {info.chunk_offset} has filter mask {info.filter_mask}, expected 0")
        mask, raw = ds.id.read_direct_chunk(info.chunk_offset)
        if has_fletcher:
            if len(raw) < 4:
                rep.problem(item, f"chunk at {info.chunk_offset} is shorter than its checksum")
                continue
            stored = int.from_bytes(raw[-4:], "little")
            actual = cr.fletcher32(memoryview(raw)[:-4])
            if stored != actual:
                rep.problem(item, f"chunk at {info.chunk_offset}: Fletcher-32 {stored:#010x} stored, "
                                  f"{actual:#010x} computed")
                continue
        edge = tuple(max(0, o + c - n) for o, c, n in zip(info.chunk_offset, chunk, shape))
        if any(edge):
            try:
                decoded = _decode_chunk(ds, chunk, raw)
            except Exception as e:  # noqa: BLE001
                rep.problem(item, f"edge chunk at {info.chunk_offset} does not decode: {e}")
                continue
            inside = tuple(slice(0, c - e) for c, e in zip(chunk, edge))
            pad = np.ones(chunk, dtype=bool)
            pad[inside] = False
            as_bytes = cr.logical_bytes(decoded)
            per_elem = np.frombuffer(as_bytes, dtype=np.uint8).reshape(chunk + (-1,))
            if per_elem[pad].any():
                rep.problem(item, f"edge chunk at {info.chunk_offset} is not zero-padded")


def _check_tensor(rep: Report, ds: h5py.Dataset, key: str, chunk_bytes: int, raw: bool) -> tuple[str | None, int]:
    item = key
    dtype = cr.logical_dtype_of(ds.id.get_type())
    if dtype is None:
        rep.problem(item, f"HDF5 type is not a format-v1 type (h5py dtype {ds.dtype})")
    dtype_attr = _check_str_attr(rep, ds, item, "dtype")
    if dtype_attr is not None and dtype is not None and dtype_attr != dtype:
        rep.problem(item, f"dtype attribute {dtype_attr!r} but HDF5 type is {dtype}")
    codec = _check_str_attr(rep, ds, item, "codec")
    stored = _check_int_attr(rep, ds, item, "xxh3_64", signed=False)
    shape = tuple(ds.shape)
    count = math.prod(shape)
    try:
        data = cr.read_dataset(ds)
    except Exception as e:  # noqa: BLE001  (h5py raises OSError/ValueError/... on damage)
        rep.problem(item, f"read failed: {e}")
        data = None  # carry on: the raw-chunk checks below name the damaged chunk
    if data is not None:
        actual = cr.xxh3_64(data)
        if stored is not None and stored != actual:
            rep.problem(item, f"xxh3_64 mismatch: attribute {stored:#018x}, data {actual:#018x}")
    if data is not None and dtype in ("float32", "float16", "bfloat16", "float64") and count:
        if not np.isfinite(data.astype(np.float64) if dtype == "bfloat16" else data).all():
            rep.problem(item, "contains NaN or Inf")

    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    layout = plist.get_layout()
    space = ds.id.get_space()
    if ds.maxshape != ds.shape:
        rep.problem(item, f"maxshape {ds.maxshape} differs from shape {ds.shape}")
    if count == 0 or not shape:
        if shape == () and space.get_simple_extent_type() != h5py.h5s.SCALAR:
            rep.problem(item, "0-d tensor without a scalar dataspace")
        if layout != h5py.h5d.CONTIGUOUS:
            rep.problem(item, f"0-d/empty tensor is not contiguous (layout {layout})")
        if filters:
            rep.problem(item, f"0-d/empty tensor has filters {[f[0] for f in filters]}")
        return dtype, count
    if layout != h5py.h5d.CHUNKED:
        rep.problem(item, f"tensor is not chunked (layout {layout})")
        return dtype, count
    elem_size = cr.DTYPE_SIZES.get(dtype or "", ds.dtype.itemsize)
    want_chunk = cr.chunk_shape(shape, elem_size, chunk_bytes)
    if tuple(ds.chunks) != want_chunk:
        rep.problem(item, f"chunk shape {list(ds.chunks)} violates the chunk rule (expected {list(want_chunk)} "
                          f"for chunk_bytes {chunk_bytes})")
    want_filters = _expected_filters(codec, elem_size)
    got_filters = [(f[0], tuple(int(c) for c in f[2])) for f in filters]
    if want_filters is None:
        rep.problem(item, f"codec attribute {codec!r} is neither 'none' nor 'zstd:<level>'")
    elif got_filters != want_filters:
        rep.problem(item, f"filter pipeline {got_filters} does not match codec {codec!r} "
                          f"(expected {want_filters})")
    for fid, flags, _cd, _name in filters:
        if fid == cr.FLETCHER32_FILTER_ID and flags & h5py.h5z.FLAG_OPTIONAL:
            rep.problem(item, "Fletcher32 filter is optional, expected mandatory")
    if raw:
        has_fletcher = bool(got_filters) and got_filters[-1][0] == cr.FLETCHER32_FILTER_ID
        _check_raw_chunks(rep, ds, item, tuple(ds.chunks), has_fletcher)
    return dtype, count


def check_file(path: str, chunk_bytes: int, raw: bool) -> Report:
    """Run every check on one file; returns the report (printing problems as found)."""
    rep = Report(path)
    f = h5py.File(path, "r")
    with f:
        root = "root attributes"
        fmt = _check_str_attr(rep, f, root, "format")
        if fmt is not None and fmt != cr.FORMAT:
            rep.problem(root, f"format is {fmt!r}, expected 'ckpt'")
        version = _check_int_attr(rep, f, root, "format_version")
        if version is not None and version != cr.FORMAT_VERSION:
            rep.problem(root, f"format_version is {version}, expected 1")
        _check_str_attr(rep, f, root, "writer")
        created = _check_str_attr(rep, f, root, "created")
        if created is not None:
            try:
                stamp = _dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
                if stamp.utcoffset() != _dt.timedelta(0):
                    rep.problem(root, f"created {created!r} is not UTC")
            except ValueError:
                rep.problem(root, f"created {created!r} is not ISO-8601")
        tensor_count = _check_int_attr(rep, f, root, "tensor_count")
        parameter_count = _check_int_attr(rep, f, root, "parameter_count")
        step = _check_int_attr(rep, f, root, "step")
        if step is not None and step < 0:
            rep.problem(root, f"step {step} is negative")
        config = _check_json_attr(rep, f, root, "model_config", required=False)
        if config is not None:
            _check_json_keys(rep, root, "model_config", config, _MODEL_CONFIG_KEYS)
        optimizer = _check_json_attr(rep, f, root, "optimizer", required=False)
        if optimizer is not None:
            _check_json_keys(rep, root, "optimizer", optimizer, _OPTIMIZER_KEYS)
        layout = _check_json_attr(rep, f, root, "layout", required=True)
        if layout is not None and not (isinstance(layout, dict) and isinstance(layout.get("kind"), str)):
            rep.problem(root, "layout JSON has no string 'kind'")
        _check_json_attr(rep, f, root, "user_metadata", required=False)
        if cr.FORMAT_MINOR_ATTR in f.attrs:
            minor = _check_int_attr(rep, f, root, cr.FORMAT_MINOR_ATTR)
            if minor is not None and minor < 1:
                rep.problem(root, f"format_minor is {minor}, expected >= 1")

        datasets: list[tuple[str, h5py.Dataset]] = []
        for top in ("model", "optimizer"):
            group = f.get(top)
            if isinstance(group, h5py.Group):
                group.visititems(lambda name, obj, top=top: datasets.append(
                    (cr.path_to_key(f"/{top}/{name}"), obj)) if isinstance(obj, h5py.Dataset) else None)
        if tensor_count is not None and tensor_count != len(datasets):
            rep.problem(root, f"tensor_count {tensor_count} but {len(datasets)} datasets under /model and /optimizer")
        rep.done()

        model: dict[str, tuple[str | None, tuple[int, ...]]] = {}
        params = 0
        for key, ds in datasets:
            dtype, count = _check_tensor(rep, ds, key, chunk_bytes, raw)
            if not key.startswith("optimizer."):
                model[key] = (dtype, tuple(ds.shape))
                params += count
            else:
                _check_optimizer_tensor(rep, key, dtype, tuple(ds.shape), f)
            rep.done()

        item = "parameter_count"
        if parameter_count is not None and parameter_count != params:
            rep.problem(item, f"attribute says {parameter_count}, datasets under /model hold {params} elements")
        rep.done()

        if config is not None and isinstance(layout, dict) and layout.get("kind") == "wafer":
            item = "model_config tensors"
            try:
                expected = dict(cr.canonical_tensors(config))
            except (KeyError, TypeError, ZeroDivisionError) as e:
                rep.problem(item, f"cannot derive canonical tensors from model_config ({e!r})")
                expected = None
            if expected is not None:
                for name, shape in expected.items():
                    if name not in model:
                        rep.problem(item, f"{name} {list(shape)} missing")
                    elif model[name][1] != shape:
                        rep.problem(item, f"{name} has shape {list(model[name][1])}, model_config implies {list(shape)}")
            rep.done()

        item = "metadata checksum"
        status, stored, computed = cr.check_metadata_checksum(f)
        if status == "mismatch":
            rep.problem(item, f"metadata damaged: {cr.METADATA_ATTR} {stored:#018x} stored, {computed:#018x} computed")
        elif status == "missing":
            rep.problem(item, f"metadata damaged: format_minor is set but {cr.METADATA_ATTR} is missing")
        elif status == "unreadable":
            rep.problem(item, "metadata damaged: an attribute or RNG dataset it covers is unreadable")
        elif status == "verified":
            _check_int_attr(rep, f, item, cr.METADATA_ATTR, signed=False)
        rep.done()

        rng = f.get("rng")
        if isinstance(rng, h5py.Group):
            item = "rng"
            for name, obj in rng.items():
                if not isinstance(obj, h5py.Dataset) or obj.ndim != 1 or cr.logical_dtype_of(obj.id.get_type()) != "uint8":
                    rep.problem(item, f"/rng/{name} is not a 1-D uint8 dataset")
            rep.done()
    return rep


def _check_optimizer_tensor(rep: Report, key: str, dtype: str | None, shape: tuple[int, ...], f: h5py.File) -> None:
    parts = key.split(".")
    state, name = parts[1], ".".join(parts[2:])
    if dtype != "float32" and state in ("exp_avg", "exp_avg_sq", "master"):
        rep.problem(key, f"optimizer state {state} is {dtype}, expected float32")
    param = f.get(cr.key_to_path(name))
    if not isinstance(param, h5py.Dataset):
        rep.problem(key, f"no parameter {name} for this optimizer state")
        return
    if tuple(param.shape) != shape:
        rep.problem(key, f"shape {list(shape)} differs from parameter shape {list(param.shape)}")
    if state == "master" and cr.logical_dtype_of(param.id.get_type()) not in ("bfloat16", "float16"):
        rep.problem(key, "fp32 master copy of a parameter that is not bfloat16/float16")


def cmd_check(args: argparse.Namespace) -> int:
    """``check`` subcommand."""
    try:
        rep = check_file(args.file, args.chunk_bytes, not args.no_raw)
    except OSError as e:
        print(f"{args.file}: cannot open: {e}", file=sys.stderr)
        return 2
    print(f"{rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


# ----------------------------------------------------------------------------------------------
# write

TINY_GPT2 = {
    "family": "gpt2", "layers": 2, "hidden": 96, "heads": 4, "kv_heads": 4, "ffn": 384, "vocab": 250,
    "max_seq": 40, "norm_eps": 1e-05, "activation": "gelu_tanh", "tie_embeddings": True,
    "norm": "layernorm", "position": "learned", "rope_theta": 10000.0, "bias": True,
}
TINY_OPTIMIZER = {"variant": "torch", "lr": 0.0006, "beta1": 0.9, "beta2": 0.95, "eps": 1e-08,
                  "weight_decay": 0.1, "grad_clip": 1.0, "decay": "matrices"}


class Storage:
    """A storage choice for one dataset: layout, chunk shape and filter pipeline."""

    def __init__(self, label: str, layout: str = "chunked", chunks: tuple[int, ...] | None = None,
                 shuffle: bool = False, zstd: int | None = None, deflate: int | None = None,
                 fletcher: bool = False, extendible: bool = False):
        self.label, self.layout, self.chunks = label, layout, chunks
        self.shuffle, self.zstd, self.deflate, self.fletcher, self.extendible = shuffle, zstd, deflate, fletcher, extendible

    @property
    def codec(self) -> str:
        """Value of the informative ``codec`` attribute."""
        if self.zstd is not None:
            return f"zstd:{self.zstd}"
        if self.deflate is not None:
            return f"gzip:{self.deflate}"
        return "none"

    def dcpl(self, shape: tuple[int, ...]) -> h5py.h5p.PropDCID:
        """Dataset creation property list for a tensor of this shape."""
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        if self.layout == "compact":
            dcpl.set_layout(h5py.h5d.COMPACT)
            return dcpl
        if self.layout == "contiguous" or not shape or (0 in shape and not self.extendible):
            return dcpl
        dcpl.set_chunk(tuple(min(c, n) if not self.extendible else c for c, n in zip(self.chunks, shape)))
        if self.shuffle:
            dcpl.set_shuffle()
        if self.zstd is not None:
            dcpl.set_filter(cr.ZSTD_FILTER_ID, h5py.h5z.FLAG_OPTIONAL, (self.zstd,))
        if self.deflate is not None:
            dcpl.set_deflate(self.deflate)
        if self.fletcher:
            dcpl.set_fletcher32()
        return dcpl


def v1_storage(shape: tuple[int, ...], dtype: str, chunk_bytes: int, level: int = 1) -> Storage:
    """Exactly what ckpt writes: chunk rule + shuffle/zstd/Fletcher32 (contiguous for 0-d/empty)."""
    chunks = cr.chunk_shape(shape, cr.DTYPE_SIZES[dtype], chunk_bytes)
    if chunks is None:
        return Storage("v1 contiguous", layout="contiguous")
    return Storage(f"v1 chunks {list(chunks)} zstd:{level}", chunks=chunks, shuffle=True, zstd=level, fletcher=True)


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Deterministic tensor contents in the logical numpy dtype."""
    if dtype in ("float32", "float64", "float16", "bfloat16"):
        if kind == "ones":
            x = np.ones(shape, dtype=np.float32)
        elif kind == "zeros":
            x = np.zeros(shape, dtype=np.float32)
        elif kind == "small":
            x = np.abs(rng.standard_normal(shape, dtype=np.float32)) * 1e-4
        else:
            x = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        if dtype == "float64":
            return rng.standard_normal(shape) * 0.02 if kind == "normal" else x.astype(np.float64)
        return x.astype(cr.NUMPY_DTYPES[dtype])
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(cr.NUMPY_DTYPES[dtype])
    return rng.integers(info.min, info.max, size=shape, dtype=cr.NUMPY_DTYPES[dtype], endpoint=True)


def _write_dataset(f: h5py.File, key: str, data: np.ndarray, dtype: str, storage: Storage) -> None:
    path = cr.key_to_path(key)
    parent, name = path.rsplit("/", 1)
    group = f.require_group(parent)
    shape = tuple(data.shape)
    tid = cr.hdf5_type_for(dtype)
    if not shape:
        space = h5py.h5s.create(h5py.h5s.SCALAR)
    elif storage.extendible:
        space = h5py.h5s.create_simple(shape, tuple(h5py.h5s.UNLIMITED for _ in shape))
    else:
        space = h5py.h5s.create_simple(shape, shape)
    dsid = h5py.h5d.create(group.id, name.encode(), tid, space, dcpl=storage.dcpl(shape))
    if data.size:
        buf = np.ascontiguousarray(data)
        if dtype in ("bfloat16", "float16"):
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, buf.view(np.uint16), mtype=tid)
        else:
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, buf)
    ds = group[name]
    ds.attrs["dtype"] = dtype
    ds.attrs["xxh3_64"] = np.uint64(cr.xxh3_64(data))
    ds.attrs["codec"] = storage.codec


def _foreign_plan() -> tuple[dict[str, tuple[str, Storage]], list[tuple[str, str, tuple[int, ...], Storage]]]:
    """Per-parameter (dtype, storage) overrides and the extra tensors for the foreign file."""
    z_shuf_f = dict(shuffle=True, zstd=3, fletcher=True)
    params: dict[str, tuple[str, Storage]] = {
        "embed.tokens.weight": ("float32", Storage("chunks (64,48) shuffle+zstd:3+fletcher32", chunks=(64, 48), **z_shuf_f)),
        "embed.positions.weight": ("float32", Storage("contiguous", layout="contiguous")),
        "layers.0.attn.q.weight": ("bfloat16", Storage("bf16 chunks (50,30) zstd:1 no shuffle +fletcher32", chunks=(50, 30), zstd=1, fletcher=True)),
        "layers.0.attn.k.weight": ("float16", Storage("f16 chunks (64,48) shuffle+zstd:1, no fletcher32", chunks=(64, 48), shuffle=True, zstd=1)),
        "layers.0.attn.v.weight": ("float64", Storage("f64 chunks (32,96) shuffle+deflate:4", chunks=(32, 96), shuffle=True, deflate=4)),
        "layers.0.attn.out.weight": ("float32", Storage("extendible chunks (30,30) zstd:1+fletcher32", chunks=(30, 30), zstd=1, fletcher=True, extendible=True)),
        "layers.0.mlp.up.weight": ("float32", Storage("chunks (64,48) shuffle+zstd:1+fletcher32", chunks=(64, 48), shuffle=True, zstd=1, fletcher=True)),
        "layers.0.mlp.down.weight": ("float32", Storage("chunks (40,100) zstd:5 only", chunks=(40, 100), zstd=5)),
        "layers.0.mlp.up.bias": ("float32", Storage("chunks (37,) shuffle+zstd:1", chunks=(37,), shuffle=True, zstd=1)),
        "layers.0.attn.q.bias": ("bfloat16", Storage("bf16 chunks (40,) deflate:1+fletcher32", chunks=(40,), deflate=1, fletcher=True)),
        "final_norm.bias": ("float32", Storage("compact", layout="compact")),
        "final_norm.weight": ("float32", Storage("chunks (10,) fletcher32 only", chunks=(10,), fletcher=True)),
    }
    extras = [
        ("extra.int32", "int32", (1000,), Storage("chunks (300,) shuffle+zstd:1+fletcher32", chunks=(300,), **dict(z_shuf_f, zstd=1))),
        ("extra.int64", "int64", (17, 33), Storage("chunks (5,7) deflate:6", chunks=(5, 7), deflate=6)),
        ("extra.int16", "int16", (9, 1000), Storage("chunks (4,256) shuffle+zstd:2", chunks=(4, 256), shuffle=True, zstd=2)),
        ("extra.int8", "int8", (777,), Storage("contiguous", layout="contiguous")),
        ("extra.uint8", "uint8", (5000,), Storage("contiguous", layout="contiguous")),
        ("extra.bool", "bool", (123, 7), Storage("chunks (50,4) zstd:1+fletcher32", chunks=(50, 4), zstd=1, fletcher=True)),
        ("extra.float64", "float64", (3, 4, 5), Storage("chunks (2,3,2) zstd:1", chunks=(2, 3, 2), zstd=1)),
        ("extra.bfloat16", "bfloat16", (33, 65), Storage("bf16 chunks (16,16) shuffle+zstd:1+fletcher32", chunks=(16, 16), shuffle=True, zstd=1, fletcher=True)),
        ("extra.float16", "float16", (1001,), Storage("f16 contiguous", layout="contiguous")),
        ("extra.scalar", "float32", (), Storage("0-d scalar", layout="contiguous")),
        ("extra.scalar_bf16", "bfloat16", (), Storage("0-d bf16 scalar", layout="contiguous")),
        ("extra.scalar_int64", "int64", (), Storage("0-d int64 scalar", layout="compact")),
        ("extra.empty", "float32", (0, 8), Storage("empty contiguous", layout="contiguous")),
        ("extra.empty_chunked", "int32", (4, 0), Storage("empty extendible chunks (2,1) zstd:1", chunks=(2, 1), zstd=1, extendible=True)),
    ]
    return params, extras


def write_file(path: str, seed: int, v1: bool, canonical_only: bool, chunk_bytes: int,
               metadata_checksum: bool = True) -> dict[str, Any]:
    """Write the cross-check file and return the expected-tensor map."""
    rng = np.random.default_rng(seed)
    overrides, extras = _foreign_plan()
    plan: list[tuple[str, str, tuple[int, ...], Storage, str]] = []
    for name, shape in cr.canonical_tensors(TINY_GPT2):
        dtype, storage = overrides.get(name, ("float32", None))
        kind = "ones" if name.endswith("norm.weight") else ("zeros" if name.endswith("norm.bias") else "normal")
        if name.endswith(".bias") and "norm" not in name:
            kind = "normal"
        plan.append((name, dtype, shape, storage, kind))
    model = list(plan)
    for name, dtype, shape, _storage, _kind in model:
        for state in ("exp_avg", "exp_avg_sq"):
            st = Storage("chunks (48,) zstd:1", chunks=(48,) * len(shape), zstd=1) if state == "exp_avg" and len(shape) == 2 else None
            plan.append((f"optimizer.{state}.{name}", "float32", shape, st, "normal" if state == "exp_avg" else "small"))
        if dtype in ("bfloat16", "float16"):
            plan.append((f"optimizer.master.{name}", "float32", shape, None, "normal"))
    if not canonical_only:
        plan.extend((name, dtype, shape, storage, "normal") for name, dtype, shape, storage in extras)

    expected: dict[str, Any] = {}
    params = 0
    tmp = f"{path}.tmp-{os.getpid()}"
    with h5py.File(tmp, "w", libver="earliest") as f:
        for name, dtype, shape, storage, kind in plan:
            data = _values(rng, dtype, shape, kind)
            if v1 or storage is None:
                storage = v1_storage(shape, dtype, chunk_bytes)
            _write_dataset(f, name, data, dtype, storage)
            expected[name] = {"dtype": dtype, "shape": list(shape), "xxh3_64": f"{cr.xxh3_64(data):#018x}",
                              "storage": storage.label}
            if not name.startswith("optimizer."):
                params += math.prod(shape)
        f.require_group("rng").create_dataset("numpy", data=rng.integers(0, 256, 2504, dtype=np.uint8))
        f.attrs["format"] = cr.FORMAT
        f.attrs["format_version"] = np.int64(cr.FORMAT_VERSION)
        f.attrs["writer"] = f"crosscheck.py (h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version})"
        f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        f.attrs["tensor_count"] = np.int64(len(plan))
        f.attrs["parameter_count"] = np.int64(params)
        f.attrs["step"] = np.int64(1234)
        f.attrs["model_config"] = json.dumps(TINY_GPT2)
        f.attrs["optimizer"] = json.dumps(TINY_OPTIMIZER)
        f.attrs["layout"] = json.dumps({"kind": "wafer"})
        f.attrs["user_metadata"] = json.dumps({"written_by": "tools/crosscheck.py write", "seed": seed})
        if metadata_checksum:
            cr.write_metadata_checksum(f)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return expected


def cmd_write(args: argparse.Namespace) -> int:
    """``write`` subcommand."""
    expected = write_file(args.file, args.seed, args.v1_storage, args.canonical_only, args.chunk_bytes,
                          not args.no_metadata_checksum)
    with open(args.file + ".expected.json", "w", encoding="utf-8") as f:
        rows = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(expected.items())]
        f.write("{\n" + ",\n".join(rows) + "\n}\n")
    # Read back with stock h5py as a self-check of what was just written.
    bad = 0
    with cr.Checkpoint(args.file) as ck:
        for key, want in expected.items():
            a = ck.read(key)
            if f"{cr.xxh3_64(a):#018x}" != want["xxh3_64"] or list(a.shape) != want["shape"]:
                print(f"{args.file}: {key}: read-back mismatch", file=sys.stderr)
                bad += 1
    print(f"wrote {args.file} ({len(expected)} tensors) and {args.file}.expected.json")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check", help="check a ckpt-written file against format v1")
    p.add_argument("file")
    p.add_argument("--chunk-bytes", type=int, default=cr.DEFAULT_CHUNK_BYTES,
                   help="chunk_bytes the writer used (default 4 MiB)")
    p.add_argument("--no-raw", action="store_true", help="skip the raw-chunk checks (faster on big files)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("write", help="write a file with foreign storage choices + FILE.expected.json")
    p.add_argument("file")
    p.add_argument("--seed", type=int, default=20261129)
    p.add_argument("--v1-storage", action="store_true", help="store every tensor exactly as ckpt does")
    p.add_argument("--canonical-only", action="store_true", help="omit the extra.* non-parameter tensors")
    p.add_argument("--no-metadata-checksum", action="store_true",
                   help="write a format v1.0 file (no format_minor / metadata_xxh3_64)")
    p.add_argument("--chunk-bytes", type=int, default=3000,
                   help="chunk_bytes for --v1-storage and default-stored tensors (default 3000, so the "
                        "tiny tensors span several chunks and have partial edge chunks)")
    p.set_defaults(func=cmd_write)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
