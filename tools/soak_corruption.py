#!/usr/bin/env python3
"""Fault suite, corruption part: damage copies of small checkpoints and check `ckpt verify`.

Imported by ``tools/soak`` (see its docstring); ``run(ckpt, workdir, scale, seed)`` returns one row
per fault class. Each case copies a base checkpoint (``ckpt synth --preset tiny --optimizer adamw``,
fp32 and bf16), changes it, and runs ``ckpt verify`` on the copy with a time limit:

- random bit flips in each kind of region of the file — data chunks, chunk index (v1 B-tree
  ``TREE`` nodes), object headers (``OHDR``/``OCHK``), attribute storage (fractal heap, v2 B-tree,
  global heap ``GCOL`` holding every string attribute), other metadata (superblock, group heaps) —
  and anywhere at all; regions are found from the chunk addresses h5py reports and the HDF5
  structure signatures in the file;
- truncations at a random length;
- targeted changes of metadata values: a digit of ``lr`` or of a ``model_config`` number, a byte
  of ``step``, a ``dtype`` or ``codec`` string, an RNG byte, a byte of an ``xxh3_64`` or of
  ``metadata_xxh3_64``, a letter of an attribute or tensor name.

A case is detected when verify exits non-zero naming the file. Verify exiting 0 is correct only if
the damage changed nothing readable: h5py must read every object, attribute value, dataset shape,
type and byte exactly as in the original (such cases count as ``harmless``, within ``detected``);
if h5py cannot read the copy at all, verify must have failed. A death by signal counts as a
crash, the time limit as a hang; both are also counted as missed so that tried = detected + missed.

    python3 -c 'import sys; sys.path.insert(0, "tools"); import soak_corruption as m; print(m.run(".build/debug/ckpt", "/tmp/sc", "ci", 1))'
"""

from __future__ import annotations

import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import sys
from typing import Any, Callable

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt_reader as cr  # noqa: E402

TIMEOUT = 20.0
STEP = 123456789
SIGNATURES = {
    b"TREE": "index", b"OHDR": "header", b"OCHK": "header", b"FRHP": "attrs", b"FHDB": "attrs",
    b"FHIB": "attrs", b"BTHD": "attrs", b"BTIN": "attrs", b"BTLF": "attrs", b"GCOL": "attrs",
    b"HEAP": "other", b"SNOD": "other",
}
FLIP_CLASSES = [
    ("bit flip: data chunks", "data"),
    ("bit flip: chunk index (B-tree)", "index"),
    ("bit flip: object headers", "header"),
    ("bit flip: attribute storage (heaps)", "attrs"),
    ("bit flip: other metadata (superblock, groups)", "other"),
    ("bit flip: anywhere", None),
]
COUNTS = {"ci": {"flip": 11, "truncate": 14, "targeted": 20}, "soak": {"flip": 140, "truncate": 100, "targeted": 120}}


# ----------------------------------------------------------------------------------------------
# What h5py can read: the oracle for "nothing meaningful changed"


def snapshot(path: str) -> dict[bytes, Any]:
    """Everything readable: per object path its attribute values and, for datasets, shape, type and bytes."""
    out: dict[bytes, Any] = {}
    with h5py.File(path, "r") as f:
        def record(oid: Any) -> list[tuple[bytes, bytes, str]]:
            names: list[bytes] = []
            h5py.h5a.iterate(oid, lambda n, *_: names.append(n))
            return [(n, cr._attr_value_record(oid, n), str(h5py.h5a.open(oid, n).dtype)) for n in sorted(names)]

        out[b"/"] = record(f.id)
        objects: list[tuple[bytes, Any]] = []
        f.id.links.visit(lambda name, info: objects.append((name, info)) if info.type == h5py.h5l.TYPE_HARD else None, info=True)
        for name, _info in objects:
            oid = h5py.h5o.open(f.id, name)
            entry: dict[str, Any] = {"attrs": record(oid), "kind": type(oid).__name__}
            if isinstance(oid, h5py.h5d.DatasetID):
                ds = h5py.Dataset(oid)
                entry["shape"] = ds.shape
                entry["maxshape"] = ds.maxshape
                entry["dtype"] = (str(ds.dtype), cr.logical_dtype_of(oid.get_type()))
                entry["data"] = bytes(cr.logical_bytes(cr.read_dataset(ds)))
            out[b"/" + name] = entry
    return out


def readable_change(original: dict[bytes, Any], path: str) -> str | None:
    """None if h5py reads `path` exactly like the original, else what differs (or why it cannot read)."""
    try:
        now = snapshot(path)
    except Exception as e:  # noqa: BLE001  (h5py raises OSError/KeyError/ValueError/... on damage)
        return f"h5py cannot read it ({type(e).__name__}: {str(e)[:80]})"
    if now.keys() != original.keys():
        return f"objects differ: {sorted(set(now) ^ set(original))[:3]}"
    for k, v in original.items():
        if now[k] != v:
            return f"{k.decode(errors='replace')} differs"
    return None


# ----------------------------------------------------------------------------------------------
# Where things are in a base file


class Base:
    """One base checkpoint: its bytes, h5py snapshot, region map and metadata targets."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as fh:
            self.data = fh.read()
        self.snapshot = snapshot(path)
        self.regions = self._regions()
        self.targets = self._targets()

    def _regions(self) -> dict[str, list[tuple[int, int]]]:
        size = len(self.data)
        data_ranges: list[tuple[int, int]] = []
        with h5py.File(self.path, "r") as f:
            found: list[Any] = []
            f.visititems(lambda _n, o: found.append(o) if isinstance(o, h5py.Dataset) else None)
            for ds in found:
                if ds.chunks:
                    for i in range(ds.id.get_num_chunks()):
                        info = ds.id.get_chunk_info(i)
                        data_ranges.append((info.byte_offset, info.byte_offset + info.size))
                elif ds.id.get_offset() is not None and ds.id.get_storage_size():
                    data_ranges.append((ds.id.get_offset(), ds.id.get_offset() + ds.id.get_storage_size()))
        data_ranges.sort()

        def in_data(pos: int) -> bool:
            return any(a <= pos < b for a, b in data_ranges)

        starts: list[tuple[int, str]] = [(0, "other")]  # superblock
        for sig, kind in SIGNATURES.items():
            pos = self.data.find(sig)
            while pos >= 0:
                if not in_data(pos):
                    starts.append((pos, kind))
                pos = self.data.find(sig, pos + 1)
        starts += [(a, "data") for a, _ in data_ranges]
        starts.sort()
        out: dict[str, list[tuple[int, int]]] = {k: [] for _, k in FLIP_CLASSES if k}
        for i, (pos, kind) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else size
            if kind == "data":
                end = next(b for a, b in data_ranges if a == pos)
            elif kind == "index" and pos + 8 <= size:
                # A v1 B-tree node has room for 2K entries; only the used ones carry meaning
                # (header 24 bytes, then key, child address, ..., key; keys of rank <= 2 tensors
                # are at most 8 + 8 * 3 bytes).
                used = int.from_bytes(self.data[pos + 6:pos + 8], "little")
                end = min(end, pos + 24 + used * 40 + 32)
            if end > pos:
                out[kind].append((pos, end))
        return out

    def _targets(self) -> list[tuple[str, int, int]]:
        """(label, offset, new byte) for targeted metadata changes."""
        d = self.data
        t: list[tuple[str, int, int]] = []

        def digits_after(key: bytes, label: str) -> None:
            pos = d.find(key)
            while pos >= 0:
                j = pos + len(key)
                while j < len(d) and chr(d[j]) in "0123456789.e-":
                    if chr(d[j]).isdigit():
                        t.append((f"{label} digit", j, ord("0") + (d[j] - ord("0") + 1 + j % 8) % 10))
                    j += 1
                pos = d.find(key, pos + 1)

        digits_after(b'"lr":', "optimizer lr")
        for k in (b'"hidden":', b'"layers":', b'"vocab":', b'"heads":', b'"ffn":', b'"max_seq":', b'"kv_heads":'):
            digits_after(k, "model_config " + k.decode().strip('":'))
        digits_after(b'"beta2":', "optimizer beta2")
        step = STEP.to_bytes(8, "little")
        pos = d.find(step)
        if pos >= 0:
            for k in range(4):
                t.append(("step byte", pos + k, d[pos + k] ^ (1 << k)))
        for word in (b"float32", b"bfloat16"):
            pos = d.find(word)
            while pos >= 0:
                t.append((f"dtype attribute '{word.decode()}'", pos + len(word) - 1, ord("4") if word == b"float32" else ord("8")))
                pos = d.find(word, pos + 1)
        pos = d.find(b"zstd:1")
        while pos >= 0:
            t.append(("codec attribute", pos + 5, ord("3")))
            pos = d.find(b"zstd:1", pos + 1)
        with h5py.File(self.path, "r") as f:
            rng = f.get("rng")
            if isinstance(rng, h5py.Group):
                for name, ds in rng.items():
                    off = ds.id.get_offset()
                    if off is not None:
                        for k in range(ds.id.get_storage_size()):
                            t.append((f"rng/{name} byte", off + k, d[off + k] ^ 0x01))
            values: list[tuple[str, int]] = [("metadata_xxh3_64", int(f.attrs[cr.METADATA_ATTR]))] if cr.METADATA_ATTR in f.attrs else []
            found: list[tuple[str, h5py.Dataset]] = []
            f.visititems(lambda n, o: found.append((n, o)) if isinstance(o, h5py.Dataset) and "xxh3_64" in o.attrs else None)
            values += [(f"xxh3_64 of {n}", int(o.attrs["xxh3_64"])) for n, o in found[:12]]
        for label, v in values:
            pos = d.find(v.to_bytes(8, "little"))
            if pos >= 0:
                for k in (0, 3, 7):
                    t.append((f"{label} byte", pos + k, d[pos + k] ^ 0x10))
        for name in (b"optimizer", b"model_config", b"step", b"exp_avg_sq", b"weight", b"dtype", b"codec"):
            pos = d.find(name)
            while pos >= 0:
                t.append((f"name '{name.decode()}' letter", pos + 1, d[pos + 1] ^ 0x01))
                pos = d.find(name, pos + 1)
        return [x for x in t if x[2] != d[x[1]]]


# ----------------------------------------------------------------------------------------------
# Cases


def verify(ckpt: str, path: str) -> tuple[str, str]:
    """('detected' | 'ok' | 'crash' | 'hang' | 'unnamed', detail) for one damaged file."""
    p = subprocess.Popen([ckpt, "verify", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # verify and the child processes it started
        p.communicate()
        return "hang", f"verify ran over {TIMEOUT:.0f}s"
    out = (stdout + stderr).strip().replace("\n", " | ")
    if p.returncode < 0 or p.returncode > 2:
        return "crash", f"verify exited {p.returncode}: {out[-200:]}"
    if p.returncode == 0:
        return "ok", out[-200:]
    if path not in out:
        return "unnamed", f"verify exited {p.returncode} without naming the file: {out[-200:]}"
    return "detected", ""


def run_case(ckpt: str, base: Base, path: str, mutate: Callable[[bytearray], bytearray]) -> tuple[str, str]:
    """Writes the damaged copy, verifies it and judges the outcome."""
    damaged = mutate(bytearray(base.data))
    with open(path, "wb") as fh:
        fh.write(damaged)
    try:
        outcome, detail = verify(ckpt, path)
        if outcome == "ok":
            change = readable_change(base.snapshot, path)
            outcome, detail = ("harmless", "") if change is None else ("missed", f"verify exit 0 but {change}")
        if outcome not in ("detected", "harmless"):
            os.replace(path, path + ".kept")  # for replay: the bases are not byte-reproducible
            detail += f" (file kept as {path}.kept)"
        return outcome, detail
    finally:
        if os.path.exists(path):
            os.unlink(path)


def flip(offset: int, bit: int) -> Callable[[bytearray], bytearray]:
    def f(b: bytearray) -> bytearray:
        b[offset] ^= 1 << bit
        return b
    return f


def set_byte(offset: int, value: int) -> Callable[[bytearray], bytearray]:
    def f(b: bytearray) -> bytearray:
        b[offset] = value
        return b
    return f


def truncate(length: int) -> Callable[[bytearray], bytearray]:
    return lambda b: b[:length]


def make_bases(ckpt: str, workdir: str) -> list[Base]:
    """Two tiny AdamW checkpoints (fp32; bf16 with master weights), small chunks so tensors span several."""
    bases = []
    for dtype in ("fp32", "bf16"):
        path = os.path.join(workdir, f"base-{dtype}.h5")
        subprocess.run([ckpt, "synth", "--preset", "tiny", "--optimizer", "adamw", "--dtype", dtype, "--step", str(STEP),
                        "--chunk-mb", "0.004", "--out", path], check=True, capture_output=True, timeout=120)
        bases.append(Base(path))
    return bases


def run(ckpt: str, workdir: str, scale: str, seed: int) -> list[dict[str, Any]]:
    """The corruption rows of the fault suite (see the module docstring)."""
    os.makedirs(workdir, exist_ok=True)
    counts = COUNTS["ci" if scale == "ci" else "soak"]
    rng = random.Random(seed)
    bases = make_bases(ckpt, workdir)
    plan: list[tuple[str, int, str, Callable[[bytearray], bytearray]]] = []
    for label, kind in FLIP_CLASSES:
        for i in range(counts["flip"]):
            b = i % len(bases)
            base = bases[b]
            if kind is None:
                offset = rng.randrange(len(base.data))
            else:
                regions = base.regions[kind] or [(0, len(base.data))]
                weights = [e - s for s, e in regions]
                s, e = rng.choices(regions, weights=weights)[0]
                offset = rng.randrange(s, e)
            bit = rng.randrange(8)
            plan.append((label, b, f"base {b} offset {offset} bit {bit}", flip(offset, bit)))
    for i in range(counts["truncate"]):
        b = i % len(bases)
        length = rng.randrange(len(bases[b].data))
        plan.append(("truncation", b, f"base {b} length {length}", truncate(length)))
    for i in range(counts["targeted"]):
        b = i % len(bases)
        label, offset, value = rng.choice(bases[b].targets)
        plan.append(("targeted metadata value", b, f"base {b} {label} at {offset} -> {value:#04x}", set_byte(offset, value)))

    def one(k: int) -> tuple[str, str]:
        _label, b, _desc, mutate = plan[k]
        return run_case(ckpt, bases[b], os.path.join(workdir, f"case-{k}.h5"), mutate)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(one, range(len(plan))))

    rows: dict[str, dict[str, Any]] = {}
    for (label, _b, desc, _m), (outcome, detail) in zip(plan, results):
        r = rows.setdefault(label, {"fault_class": "corruption: " + label, "tried": 0, "detected": 0, "missed": 0,
                                    "crashes": 0, "hangs": 0, "damaged_targets": 0, "harmless": 0, "details": []})
        r["tried"] += 1
        if outcome in ("detected", "harmless"):
            r["detected"] += 1
            r["harmless"] += outcome == "harmless"
            continue
        r["missed"] += 1
        r["crashes"] += outcome == "crash"
        r["hangs"] += outcome == "hang"
        r["details"].append(f"seed {seed} {desc}: {outcome}: {detail}")
    if not any(r["details"] for r in rows.values()):
        for b in bases:
            os.unlink(b.path)
    return list(rows.values())


if __name__ == "__main__":
    import json
    work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/soak-corruption"
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(run(sys.argv[1], work, sys.argv[2] if len(sys.argv) > 2 else "ci", 1), indent=1))
