#!/usr/bin/env python3
"""Minimal reader for ckpt checkpoint files (format v1, see formats/checkpoint-v1.md).

Uses only h5py, hdf5plugin (for the zstd filter), numpy, ml_dtypes and xxhash.

Library use::

    from ckpt_reader import Checkpoint
    with Checkpoint("model.h5") as ck:
        print(ck.metadata["model_config"]["hidden"])
        for t in ck.tensors():
            print(t.key, t.dtype, t.shape)
        w = ck.read("layers.0.attn.q.weight")            # numpy array; bf16 -> ml_dtypes.bfloat16
        ok, stored, actual = ck.verify("layers.0.attn.q.weight")

Command line::

    ckpt_reader.py ls FILE
    ckpt_reader.py meta FILE
    ckpt_reader.py get FILE NAME [--out x.npy]
    ckpt_reader.py verify FILE [NAME ...]          # exit 0 if all xxh3_64 match, 1 otherwise

Tensor keys are dotted canonical names (``layers.0.attn.q.weight``) for model tensors and
``optimizer.<state>.<name>`` for optimizer state (``optimizer.exp_avg.layers.0.attn.q.weight``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import struct
import sys
from typing import Any, Iterable

import h5py
import hdf5plugin  # noqa: F401  (registers the zstd filter, id 32015, with HDF5)
import ml_dtypes
import numpy as np
import xxhash

FORMAT = "ckpt"
FORMAT_VERSION = 1
FORMAT_MINOR = 1                      #: v1.1: the file carries ``metadata_xxh3_64``
FORMAT_MINOR_ATTR = "format_minor"
METADATA_ATTR = "metadata_xxh3_64"
METADATA_MAGIC = b"ckpt-metadata-v1.1\n"
METADATA_GROUPS = ("model", "optimizer", "rng")
DEFAULT_CHUNK_BYTES = 4 << 20
EMPTY_XXH3_64 = 0x2D06800538D394C2
ZSTD_FILTER_ID = 32015
SHUFFLE_FILTER_ID = 2
FLETCHER32_FILTER_ID = 3
DEFLATE_FILTER_ID = 1

#: Logical dtype name -> element size in bytes.
DTYPE_SIZES = {
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "int16": 2,
    "int32": 4, "int64": 8, "uint8": 1, "bool": 1,
}

#: Logical dtype name -> numpy dtype returned by `Checkpoint.read`.
NUMPY_DTYPES = {
    "float32": np.dtype("<f4"), "float16": np.dtype("<f2"),
    "bfloat16": np.dtype(ml_dtypes.bfloat16), "float64": np.dtype("<f8"),
    "int8": np.dtype("i1"), "int16": np.dtype("<i2"), "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"), "uint8": np.dtype("u1"), "bool": np.dtype("?"),
}

_ROOT_JSON_ATTRS = ("model_config", "optimizer", "layout", "user_metadata")
_PRESETS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "formats", "presets.json")


# ----------------------------------------------------------------------------------------------
# HDF5 datatypes

def _custom_float16_bits(fields: tuple[int, int, int, int, int], ebias: int) -> h5py.h5t.TypeFloatID:
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(*fields)
    t.set_offset(0)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(ebias)
    return t


def bfloat16_type() -> h5py.h5t.TypeFloatID:
    """HDF5 file type for bfloat16: sign 15, exponent 7..14 (bias 127), mantissa 0..6, 2 bytes LE."""
    return _custom_float16_bits((15, 7, 8, 0, 7), 127)


def float16_type() -> h5py.h5t.TypeFloatID:
    """HDF5 file type for float16 as ckpt builds it (fields 15,10,5,0,10, bias 15; = IEEE_F16LE)."""
    return _custom_float16_bits((15, 10, 5, 0, 10), 15)


def hdf5_type_for(dtype: str) -> h5py.h5t.TypeID:
    """The HDF5 file datatype that format v1 prescribes for a logical dtype name."""
    if dtype == "bfloat16":
        return bfloat16_type()
    if dtype == "float16":
        return float16_type()
    return h5py.h5t.py_create(NUMPY_DTYPES[dtype], logical=True)


def logical_dtype_of(tid: h5py.h5t.TypeID) -> str | None:
    """Classify an HDF5 datatype as a format-v1 logical dtype name, or None if it is none of them.

    Floats are recognised by their bit fields, size, bias and byte order, not by h5py's NumPy
    mapping (h5py maps the bfloat16 custom type to float32).
    """
    if isinstance(tid, h5py.h5t.TypeFloatID):
        if tid.get_order() != h5py.h5t.ORDER_LE or tid.get_offset() != 0:
            return None
        key = (tid.get_size(), tid.get_precision(), tid.get_fields(), tid.get_ebias())
        return {
            (4, 32, (31, 23, 8, 0, 23), 127): "float32",
            (8, 64, (63, 52, 11, 0, 52), 1023): "float64",
            (2, 16, (15, 10, 5, 0, 10), 15): "float16",
            (2, 16, (15, 7, 8, 0, 7), 127): "bfloat16",
        }.get(key)
    if isinstance(tid, h5py.h5t.TypeEnumID):
        base = tid.get_super()
        if not isinstance(base, h5py.h5t.TypeIntegerID) or base.get_size() != 1:
            return None
        if base.get_sign() != h5py.h5t.SGN_2 or tid.get_nmembers() != 2:
            return None
        members = {tid.get_member_name(i): tid.get_member_value(i) for i in range(2)}
        return "bool" if members == {b"FALSE": 0, b"TRUE": 1} else None
    if isinstance(tid, h5py.h5t.TypeIntegerID):
        if tid.get_size() > 1 and tid.get_order() != h5py.h5t.ORDER_LE:
            return None
        signed = tid.get_sign() == h5py.h5t.SGN_2
        return {
            (1, True): "int8", (2, True): "int16", (4, True): "int32", (8, True): "int64",
            (1, False): "uint8",
        }.get((tid.get_size(), signed))
    return None


# ----------------------------------------------------------------------------------------------
# Format rules

def chunk_shape(shape: Iterable[int], elem_size: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[int, ...] | None:
    """Chunk shape of format v1 (section 8.1); None for 0-d and empty tensors (contiguous)."""
    shape = tuple(int(n) for n in shape)
    if not shape or 0 in shape:
        return None
    target = max(1, chunk_bytes // elem_size)
    for d in range(len(shape)):
        tail = math.prod(shape[d + 1:])
        if tail <= target:
            return tuple([1] * d + [min(shape[d], max(1, target // tail))] + list(shape[d + 1:]))
    raise AssertionError("unreachable: the last dimension always qualifies")


def fletcher32(data: bytes | bytearray | memoryview) -> int:
    """HDF5's Fletcher-32 (H5_checksum_fletcher32): big-endian 16-bit words, blocks of 360."""
    buf = memoryview(data).cast("B")
    n = len(buf)
    words = np.frombuffer(buf, dtype=">u2", count=n // 2).astype(np.uint64)
    sum1 = sum2 = 0
    nblocks = (len(words) + 359) // 360
    if nblocks:
        full = len(words) // 360
        block_s = np.empty(nblocks, dtype=np.uint64)
        block_t = np.empty(nblocks, dtype=np.uint64)
        lengths = [360] * full
        weights = np.arange(360, 0, -1, dtype=np.uint64)
        if full:
            m = words[: full * 360].reshape(full, 360)
            block_s[:full] = m.sum(axis=1)
            block_t[:full] = m @ weights
        if full < nblocks:
            rest = words[full * 360:]
            lengths.append(len(rest))
            block_s[full] = rest.sum()
            block_t[full] = (rest * np.arange(len(rest), 0, -1, dtype=np.uint64)).sum()
        for length, s, t in zip(lengths, block_s.tolist(), block_t.tolist()):
            # sum2 gains length * sum1 (old) plus the weighted word sum; 32-bit wrap as in C.
            sum2 = (sum2 + length * sum1 + t) & 0xFFFFFFFF
            sum1 = (sum1 + s) & 0xFFFFFFFF
            sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
            sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if n % 2:
        sum1 += buf[n - 1] << 8
        sum2 += sum1
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


def logical_bytes(array: np.ndarray) -> memoryview:
    """The logical little-endian C-order bytes of an array (bf16/f16 raw bits, bool 0/1)."""
    a = np.asarray(array)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    a = np.ascontiguousarray(a)
    return memoryview(a.reshape(-1).view(np.uint8))


def xxh3_64(array: np.ndarray) -> int:
    """XXH3-64 (seed 0) of an array's logical bytes, as stored in the ``xxh3_64`` attribute."""
    return xxhash.xxh3_64_intdigest(logical_bytes(array))


def key_to_path(key: str) -> str:
    """``layers.0.w`` -> ``/model/layers/0/w``; ``optimizer.exp_avg.x.y`` -> ``/optimizer/exp_avg/x/y``."""
    parts = key.split(".")
    if parts[0] == "optimizer" and len(parts) >= 3:
        return "/optimizer/" + "/".join(parts[1:])
    return "/model/" + "/".join(parts)


def path_to_key(path: str) -> str:
    """Inverse of `key_to_path`."""
    parts = path.strip("/").split("/")
    if parts[0] == "model":
        return ".".join(parts[1:])
    if parts[0] == "optimizer":
        return ".".join(parts)
    raise ValueError(f"{path}: not a tensor path under /model or /optimizer")


def load_presets(path: str = _PRESETS_PATH) -> dict[str, dict[str, dict[str, Any]]]:
    """formats/presets.json: {family: {preset: model_config}}."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def canonical_tensors(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Canonical parameter names and shapes for a model_config (formats/tensor-names.md), in order."""
    C, F, V, S = config["hidden"], config["ffn"], config["vocab"], config["max_seq"]
    kv = config["kv_heads"] * (C // config["heads"])
    bias = bool(config["bias"])
    norm_bias = config["norm"] == "layernorm" and bias
    out: list[tuple[str, tuple[int, ...]]] = [("embed.tokens.weight", (V, C))]
    if config["position"] == "learned":
        out.append(("embed.positions.weight", (S, C)))

    def norm(prefix: str) -> None:
        out.append((f"{prefix}.weight", (C,)))
        if norm_bias:
            out.append((f"{prefix}.bias", (C,)))

    def linear(prefix: str, rows: int, cols: int) -> None:
        out.append((f"{prefix}.weight", (rows, cols)))
        if bias:
            out.append((f"{prefix}.bias", (rows,)))

    for i in range(config["layers"]):
        p = f"layers.{i}"
        norm(f"{p}.attn_norm")
        linear(f"{p}.attn.q", C, C)
        linear(f"{p}.attn.k", kv, C)
        linear(f"{p}.attn.v", kv, C)
        linear(f"{p}.attn.out", C, C)
        norm(f"{p}.mlp_norm")
        if config["activation"] == "swiglu":
            linear(f"{p}.mlp.gate", F, C)
        linear(f"{p}.mlp.up", F, C)
        linear(f"{p}.mlp.down", C, F)
    norm("final_norm")
    if not config["tie_embeddings"]:
        out.append(("lm_head.weight", (V, C)))
    return out


# ----------------------------------------------------------------------------------------------
# Metadata checksum (format v1.1, section 13)

def _u64(v: int) -> bytes:
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def _bstr(b: bytes) -> bytes:
    return _u64(len(b)) + b


def _covered_dataset_paths(f: h5py.File) -> list[bytes]:
    """Absolute paths (stored bytes) of every dataset reached by hard links below the covered groups."""
    out: list[bytes] = []
    for group in METADATA_GROUPS:
        if not f.id.links.exists(group.encode()):
            continue
        gid = h5py.h5g.open(f.id, group.encode())
        found: list[bytes] = []

        def visit(name: bytes, info: Any, gid: Any = gid, found: list[bytes] = found) -> None:
            if info.type == h5py.h5l.TYPE_HARD and isinstance(h5py.h5o.open(gid, name), h5py.h5d.DatasetID):
                found.append(name)

        gid.links.visit(visit, info=True)
        out.extend(b"/" + group.encode() + b"/" + n for n in found)
    return out


def _attr_value_record(oid: Any, name: bytes) -> bytes:
    aid = h5py.h5a.open(oid, name)
    tid = aid.get_type()
    space = aid.get_space()
    cls = tid.get_class()
    if space.get_simple_extent_type() != h5py.h5s.SCALAR or cls not in (h5py.h5t.STRING, h5py.h5t.INTEGER, h5py.h5t.FLOAT):
        return b"?" + _u64(cls) + _u64(max(0, space.get_simple_extent_npoints()))
    if cls == h5py.h5t.STRING:
        if tid.is_variable_str():
            utf8 = tid.get_cset() == h5py.h5t.CSET_UTF8
            dt = h5py.string_dtype("utf-8" if utf8 else "ascii")
            arr = np.empty((), dtype=dt)
            aid.read(arr, mtype=h5py.h5t.py_create(dt))
            v = arr[()]
            raw = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v or b"")
        else:
            arr = np.empty((), dtype=f"S{tid.get_size()}")
            aid.read(arr, mtype=tid)
            raw = bytes(arr[()])
        return b"s" + _bstr(raw.split(b"\0", 1)[0])
    if cls == h5py.h5t.INTEGER:
        unsigned = tid.get_sign() == h5py.h5t.SGN_NONE
        arr = np.empty((), dtype="<u8" if unsigned else "<i8")
        aid.read(arr)
        return (b"u" if unsigned else b"i") + arr.tobytes()
    arr = np.empty((), dtype="<f8")
    aid.read(arr)
    return b"f" + arr.tobytes()


def metadata_serialisation(f: h5py.File) -> bytes:
    """The bytes that ``metadata_xxh3_64`` hashes (formats/checkpoint-v1.md section 13)."""
    out = [METADATA_MAGIC]
    for path in sorted([b"/"] + _covered_dataset_paths(f)):
        oid = h5py.h5o.open(f.id, path)
        out.append(b"O" + _bstr(path))
        if path != b"/":
            shape = oid.shape or ()
            out.append(b"S" + _u64(len(shape)) + b"".join(_u64(d) for d in shape))
        names: list[bytes] = []
        h5py.h5a.iterate(oid, lambda n, *_: names.append(n))
        for name in sorted(names):
            if path == b"/" and name == METADATA_ATTR.encode():
                continue
            out.append(b"A" + _bstr(name) + _attr_value_record(oid, name))
        if path.startswith(b"/rng/"):
            data = np.empty(oid.shape or (), dtype=np.uint8)
            if data.size:
                oid.read(h5py.h5s.ALL, h5py.h5s.ALL, data)
            out.append(b"D" + _bstr(data.tobytes()))
    return b"".join(out)


def metadata_xxh3_64(f: h5py.File) -> int:
    """XXH3-64 of `metadata_serialisation`: the value a v1.1 writer stores in ``metadata_xxh3_64``."""
    return xxhash.xxh3_64_intdigest(metadata_serialisation(f))


def check_metadata_checksum(f: h5py.File) -> tuple[str, int | None, int | None]:
    """("verified" | "absent" | "missing" | "mismatch" | "unreadable", stored, computed).

    "absent": no checksum and no ``format_minor`` (a v1.0 file): metadata not covered.
    "missing": ``format_minor`` >= 1 but ``metadata_xxh3_64`` is gone (damage).
    """
    if METADATA_ATTR not in f.attrs:
        return ("missing" if FORMAT_MINOR_ATTR in f.attrs else "absent"), None, None
    try:
        stored = int(f.attrs[METADATA_ATTR])
        computed = metadata_xxh3_64(f)
    except Exception:  # noqa: BLE001  (h5py raises OSError/KeyError/ValueError/... on damage)
        return "unreadable", None, None
    return ("verified" if stored == computed else "mismatch"), stored, computed


def write_metadata_checksum(f: h5py.File) -> int:
    """Make an open, writable file v1.1: set ``format_minor`` and (last) ``metadata_xxh3_64``."""
    f.attrs[FORMAT_MINOR_ATTR] = np.int64(FORMAT_MINOR)
    if METADATA_ATTR in f.attrs:
        del f.attrs[METADATA_ATTR]
    value = metadata_xxh3_64(f)
    f.attrs[METADATA_ATTR] = np.uint64(value)
    return value


# ----------------------------------------------------------------------------------------------
# Reader

@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One dataset under /model or /optimizer."""

    key: str                      #: dotted key (optimizer ones prefixed ``optimizer.<state>.``)
    path: str                     #: HDF5 dataset path
    dtype: str | None             #: logical dtype from the HDF5 type (None if not a v1 type)
    dtype_attr: str | None        #: the ``dtype`` attribute
    shape: tuple[int, ...]
    chunks: tuple[int, ...] | None
    filters: tuple[tuple[int, int, tuple[int, ...]], ...]  #: (id, flags, cd_values) in order
    codec: str | None
    xxh3_64: int | None
    raw_bytes: int
    stored_bytes: int


def _attr_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8").rstrip("\0")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _attr_str(value[()])
    return str(value)


class Checkpoint:
    """A format-v1 checkpoint opened read-only. Use as a context manager or call `close`."""

    def __init__(self, path: str):
        self.path = path
        self.file = h5py.File(path, "r")
        self.metadata = self._read_metadata()

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 file."""
        self.file.close()

    def _read_metadata(self) -> dict[str, Any]:
        attrs = self.file.attrs
        meta: dict[str, Any] = {}
        for name in attrs:
            value = attrs[name]
            if name in _ROOT_JSON_ATTRS:
                meta[name] = json.loads(_attr_str(value))
            elif name in ("format", "writer", "created"):
                meta[name] = _attr_str(value)
            elif isinstance(value, (np.integer, int)):
                meta[name] = int(value)
            else:
                meta[name] = value
        for name in ("model_config", "optimizer", "user_metadata"):
            meta.setdefault(name, None)
        return meta

    def check_format(self) -> None:
        """Raise ValueError unless this is a ckpt file of a supported format version."""
        if self.metadata.get("format") != FORMAT:
            raise ValueError(f"{self.path}: not a ckpt file (format={self.metadata.get('format')!r})")
        version = self.metadata.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise ValueError(f"{self.path}: unsupported format_version {version!r}")

    def dataset(self, key: str) -> h5py.Dataset:
        """The h5py dataset of a tensor key; KeyError naming file and tensor if absent."""
        path = key_to_path(key)
        obj = self.file.get(path)
        if not isinstance(obj, h5py.Dataset):
            raise KeyError(f"{self.path}: no tensor {key}")
        return obj

    def tensors(self) -> list[TensorInfo]:
        """All tensors under /model and /optimizer, in HDF5 (alphabetical per group) order."""
        found: list[TensorInfo] = []
        for root in ("model", "optimizer"):
            group = self.file.get(root)
            if not isinstance(group, h5py.Group):
                continue

            def visit(name: str, obj: Any, root: str = root) -> None:
                if isinstance(obj, h5py.Dataset):
                    found.append(self._info(path_to_key(f"/{root}/{name}"), obj))

            group.visititems(visit)
        return found

    def info(self, key: str) -> TensorInfo:
        """TensorInfo of one tensor."""
        return self._info(key, self.dataset(key))

    @staticmethod
    def _info(key: str, ds: h5py.Dataset) -> TensorInfo:
        dtype = logical_dtype_of(ds.id.get_type())
        plist = ds.id.get_create_plist()
        filters = tuple(
            (f[0], f[1], tuple(int(c) for c in f[2])) for f in (plist.get_filter(i) for i in range(plist.get_nfilters()))
        )
        attrs = ds.attrs
        xxh = attrs.get("xxh3_64")
        size = DTYPE_SIZES.get(dtype or "", ds.dtype.itemsize)
        return TensorInfo(
            key=key, path=ds.name, dtype=dtype,
            dtype_attr=_attr_str(attrs["dtype"]) if "dtype" in attrs else None,
            shape=tuple(ds.shape), chunks=ds.chunks, filters=filters,
            codec=_attr_str(attrs["codec"]) if "codec" in attrs else None,
            xxh3_64=int(xxh) if xxh is not None else None,
            raw_bytes=int(math.prod(ds.shape)) * size, stored_bytes=ds.id.get_storage_size(),
        )

    def read(self, key: str) -> np.ndarray:
        """Read a whole tensor. bfloat16 comes back as ml_dtypes.bfloat16 (bit-exact, fast path)."""
        ds = self.dataset(key)
        return read_dataset(ds)

    def verify(self, key: str) -> tuple[bool, int | None, int]:
        """(matches, stored xxh3_64 attribute, recomputed xxh3_64) for one tensor."""
        info = self.info(key)
        actual = xxh3_64(self.read(key))
        return info.xxh3_64 == actual, info.xxh3_64, actual

    def rng(self) -> dict[str, bytes]:
        """RNG states stored under /rng, as raw bytes."""
        group = self.file.get("rng")
        if not isinstance(group, h5py.Group):
            return {}
        return {name: bytes(np.asarray(obj[()], dtype=np.uint8).tobytes())
                for name, obj in group.items() if isinstance(obj, h5py.Dataset)}


def read_dataset(ds: h5py.Dataset) -> np.ndarray:
    """Read an h5py dataset with format-v1 semantics (bf16 via raw 16-bit read, bool as bool)."""
    tid = ds.id.get_type()
    dtype = logical_dtype_of(tid)
    shape = tuple(ds.shape)
    if dtype == "bfloat16":
        raw = np.empty(shape, dtype=np.uint16)
        if raw.size:
            # Memory type = file type: HDF5 copies the 16-bit patterns without float conversion.
            ds.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=tid)
        return raw.view(ml_dtypes.bfloat16)
    want = NUMPY_DTYPES.get(dtype or "", ds.dtype)
    if math.prod(shape) == 0:
        return np.empty(shape, dtype=want)
    out = np.empty(shape, dtype=want)
    ds.read_direct(out)
    return out


# ----------------------------------------------------------------------------------------------
# CLI

def _cmd_ls(args: argparse.Namespace) -> int:
    with Checkpoint(args.file) as ck:
        rows = ck.tensors()
        print(f"{'name':<60} {'dtype':<9} {'shape':<18} {'raw':>12} {'stored':>12} {'ratio':>6}")
        for t in rows:
            ratio = t.stored_bytes / t.raw_bytes if t.raw_bytes else 0.0
            print(f"{t.key:<60} {t.dtype or '?':<9} {str(list(t.shape)):<18} {t.raw_bytes:>12} "
                  f"{t.stored_bytes:>12} {ratio:>6.3f}")
    return 0


def _cmd_meta(args: argparse.Namespace) -> int:
    with Checkpoint(args.file) as ck:
        meta = dict(ck.metadata)
        meta["rng"] = {k: len(v) for k, v in ck.rng().items()}
        print(json.dumps(meta, indent=2, default=str))
    return 0


def _cmd_get(args: argparse.Namespace) -> int:
    with Checkpoint(args.file) as ck:
        try:
            a = ck.read(args.name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
        print(f"{args.name}: dtype={a.dtype} shape={list(a.shape)} xxh3_64={xxh3_64(a):#018x}")
        if args.out:
            np.save(args.out, a)
        elif a.size:
            flat = a.reshape(-1)
            head = flat[: min(8, flat.size)]
            print("first values:", (head if head.dtype.kind in "biu" else head.astype(np.float64)).tolist())
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    bad = 0
    with Checkpoint(args.file) as ck:
        keys = args.names or [t.key for t in ck.tensors()]
        for key in keys:
            ok, stored, actual = ck.verify(key)
            if not ok:
                bad += 1
                stored_s = f"{stored:#018x}" if stored is not None else "missing"
                print(f"{args.file}: {key}: xxh3_64 mismatch (attribute {stored_s}, data {actual:#018x})")
        print(f"{len(keys) - bad} passed, {bad} failed")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command line interface."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ls", help="list tensors")
    p.add_argument("file")
    p.set_defaults(func=_cmd_ls)
    p = sub.add_parser("meta", help="print root metadata as JSON")
    p.add_argument("file")
    p.set_defaults(func=_cmd_meta)
    p = sub.add_parser("get", help="read one tensor (optionally save as .npy)")
    p.add_argument("file")
    p.add_argument("name")
    p.add_argument("--out", help="write the tensor to this .npy file")
    p.set_defaults(func=_cmd_get)
    p = sub.add_parser("verify", help="recompute xxh3_64 of tensors")
    p.add_argument("file")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=_cmd_verify)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
