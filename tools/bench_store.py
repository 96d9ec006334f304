#!/usr/bin/env python3
"""Side-by-side store benchmark: ckpt versus h5py + hdf5plugin (not part of CI).

For each dtype (fp32, bf16) it writes and then reads a synthetic GPT-2-family model
(``--preset``, default 1.3b, from formats/presets.json) with both tools, using the same tensor
names and shapes, the same chunk shape rule (formats/checkpoint-v1.md 8.1), and the same filter
pipeline (shuffle + zstd level 1 + Fletcher32):

* ckpt: builds the release binary (``swift build -c release --scratch-path .build-bench
  --product ckpt``) unless ``--ckpt`` names one, then runs ``ckpt bench write --preset P --dtype D
  --codec zstd:1 --out F --json`` (it generates each tensor untimed and times only writes + commit)
  and ``ckpt bench read F --json`` (reads every tensor fully).
* h5py: runs this script's hidden ``_h5py-write`` / ``_h5py-read`` modes in a subprocess.
  Each tensor is generated untimed (weights N(0, 0.02) float32 from numpy's PCG64 with a fixed
  seed, residual projections attn.out/mlp.down N(0, 0.02/sqrt(2L)) as ckpt's generator does,
  biases 0, norm weights 1; bf16 = the float32 values rounded by ml_dtypes, written as raw
  16-bit words of the format's custom type; the ``xxh3_64`` attribute is computed untimed too).
  Timed: dataset creation + write of every tensor, then file close + fsync + rename (the same
  durability as ckpt's commit). The read times opening the file and reading every tensor into
  a preallocated array (bf16 through the raw 16-bit fast path; HDF5 verifies Fletcher32), without
  recomputing xxh3_64 (ckpt's read does verify its hashes, so this favours h5py).

With ``--data ckpt`` the h5py writer instead copies the values of the file ckpt just wrote (read
untimed), so both tools compress identical bytes; use it to compare stored/raw ratios.
``--optimizer`` adds AdamW state (exp_avg, exp_avg_sq, and fp32 masters for bf16) to the
synthetic model; it implies ``--data ckpt``, since only ckpt's generator makes that state.

``--set trained`` (or ``both``) adds a trained-weights set: the float32 initializers of the ONNX
models shipped inside two PyPI wheels (nudenet 3.4.2: YOLOv8n; rapidocr-onnxruntime 1.4.4:
PP-OCRv4 det/rec/cls; 7.0 M parameters in 881 tensors), fetched once with ``pip download
--no-deps`` into ``--cache`` and parsed with the ``onnx`` package, written to a safetensors file
(fp32, and bf16 rounded to nearest by ml_dtypes) that ``ckpt bench write --tensors`` writes; the
h5py half copies the values of that ckpt file. No trained optimizer state ships in a wheel, so
that set has the weights class only. Every run prints stored/raw per tensor class (weights,
exp_avg, exp_avg_sq, masters) for both tools; h5py + hdf5plugin's zstd level 1 is the LZ frame
ckpt wrote before its literal-only frames, so that column is also the old ratio.

Peak RSS of every child is taken from ``os.wait4`` (the child's own ``ru_maxrss``), so both tools
are measured the same way, each in its own process. Reads are warm (the file was just written and
stays in the page cache; dropping caches needs root) unless ``--cold`` is given, which evicts the
file's pages with ``posix_fadvise(DONTNEED)`` before each read.

    python3 tools/bench_store.py                    # 1.3b, fp32 and bf16 (about 5 + 2.6 GB per tool)
    python3 tools/bench_store.py --preset 124m      # quick check
    python3 tools/bench_store.py --preset 124m --skip-ckpt    # h5py half only
    python3 tools/bench_store.py --preset 350m --optimizer --set both   # ratios per class
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

DTYPES = {"fp32": "float32", "bf16": "bfloat16"}
SEED = 1234
ZSTD_LEVEL = 1


# ----------------------------------------------------------------------------------------------
# h5py half (runs in a child process so its RSS is measured like ckpt's)

def _model_tensors(preset: str) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...]]]]:
    import ckpt_reader as cr
    presets = cr.load_presets()["gpt2"]
    if preset not in presets:
        raise SystemExit(f"unknown gpt2 preset {preset!r} (have: {', '.join(presets)})")
    config = presets[preset]
    return config, cr.canonical_tensors(config)


def _generate(rng: Any, name: str, shape: tuple[int, ...], layers: int) -> Any:
    import numpy as np
    if name.endswith(".bias"):
        return np.zeros(shape, dtype=np.float32)
    if "norm." in name:
        return np.ones(shape, dtype=np.float32)
    std = 0.02 / math.sqrt(2 * layers) if name.endswith(("attn.out.weight", "mlp.down.weight")) else 0.02
    x = rng.standard_normal(shape, dtype=np.float32)
    x *= np.float32(std)
    return x


def _write_one(f: Any, name: str, x: Any, logical: str, chunk_bytes: int) -> tuple[Any, float]:
    """Create and write one dataset (timed part); returns (dataset, seconds)."""
    import h5py
    import hdf5plugin
    import numpy as np
    import ckpt_reader as cr

    shape = tuple(x.shape)
    chunks = cr.chunk_shape(shape, cr.DTYPE_SIZES[logical], chunk_bytes)
    path_parts = cr.key_to_path(name)
    t0 = time.perf_counter()
    if logical == "bfloat16":
        parent, leaf = path_parts.rsplit("/", 1)
        group = f.require_group(parent)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk(chunks)
        dcpl.set_shuffle()
        dcpl.set_filter(cr.ZSTD_FILTER_ID, h5py.h5z.FLAG_OPTIONAL, (ZSTD_LEVEL,))
        dcpl.set_fletcher32()
        bf16 = cr.bfloat16_type()
        dsid = h5py.h5d.create(group.id, leaf.encode(), bf16, h5py.h5s.create_simple(shape, shape), dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(x), mtype=bf16)
        ds = group[leaf]
    else:
        ds = f.create_dataset(path_parts, shape=shape, dtype=x.dtype.newbyteorder("<"), chunks=chunks, shuffle=True,
                              fletcher32=True, **hdf5plugin.Zstd(clevel=ZSTD_LEVEL))
        ds.write_direct(np.ascontiguousarray(x))
    return ds, time.perf_counter() - t0


def h5py_write(preset: str, dtype: str, path: str, chunk_bytes: int, source: str | None = None) -> dict[str, Any]:
    """Write the preset with h5py + hdf5plugin; returns {seconds, raw_bytes, stored_bytes}.

    Values come from numpy (see the module docstring), or, with ``source``, are copied from every
    tensor of that (ckpt-written) checkpoint, each in its own dtype, read untimed.
    """
    import datetime
    import h5py
    import ml_dtypes
    import numpy as np
    import ckpt_reader as cr

    src = cr.Checkpoint(source) if source else None
    if src is not None:
        names = [(t.key, t.shape, t.dtype) for t in src.tensors()]
        config = src.metadata.get("model_config")
    else:
        config, tensors = _model_tensors(preset)
        names = [(n, s, DTYPES[dtype]) for n, s in tensors]
    rng = np.random.default_rng(SEED)
    tmp = f"{path}.tmp-{os.getpid()}"
    timed = 0.0
    raw = 0
    t0 = time.perf_counter()
    f = h5py.File(tmp, "w", libver="earliest")
    timed += time.perf_counter() - t0
    for name, shape, logical in names:
        if src is not None:
            x = src.read(name)
        else:
            x = _generate(rng, name, shape, config["layers"])
            if logical == "bfloat16":
                x = x.astype(ml_dtypes.bfloat16)
        if logical == "bfloat16":
            x = x.view(np.uint16)
        digest = np.uint64(cr.xxh3_64(x))
        ds, seconds = _write_one(f, name, x, logical, chunk_bytes)
        timed += seconds
        ds.attrs["dtype"] = logical
        ds.attrs["xxh3_64"] = digest
        ds.attrs["codec"] = f"zstd:{ZSTD_LEVEL}"
        raw += x.nbytes
        del x
    if src is not None:
        src.close()
    f.attrs["format"] = cr.FORMAT
    f.attrs["format_version"] = np.int64(cr.FORMAT_VERSION)
    f.attrs["writer"] = f"bench_store.py (h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version})"
    f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    f.attrs["tensor_count"] = np.int64(len(names))
    f.attrs["parameter_count"] = np.int64(sum(math.prod(s) for n, s, _ in names if not n.startswith("optimizer.")))
    f.attrs["step"] = np.int64(0)
    if config:
        f.attrs["model_config"] = config if isinstance(config, str) else json.dumps(config)
    f.attrs["layout"] = json.dumps({"kind": "wafer"})
    t0 = time.perf_counter()
    f.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    timed += time.perf_counter() - t0
    with h5py.File(path, "r") as f:
        stored = sum(f[cr.key_to_path(n)].id.get_storage_size() for n, _, _ in names)
    return {"seconds": timed, "raw_bytes": raw, "stored_bytes": stored}


def class_ratios(path: str) -> dict[str, list[int]]:
    """{class: [raw bytes, stored bytes]} over the file's tensors: weights (/model), exp_avg,
    exp_avg_sq, masters (/optimizer/<state>)."""
    import h5py
    import ckpt_reader as cr

    out: dict[str, list[int]] = {}
    with cr.Checkpoint(path) as c:
        for t in c.tensors():
            parts = t.key.split(".")
            cls = "weights" if parts[0] != "optimizer" else {"master": "masters"}.get(parts[1], parts[1])
            acc = out.setdefault(cls, [0, 0])
            acc[0] += t.raw_bytes
            acc[1] += t.stored_bytes
    return out


TRAINED_WHEELS = ["nudenet==3.4.2", "rapidocr-onnxruntime==1.4.4"]


def trained_safetensors(cache: str, dtype: str) -> str:
    """The trained-weights set as a safetensors file in ``cache`` (made once): every float32
    initializer or Constant with at least one dimension of the ONNX models in TRAINED_WHEELS, named
    ``<model>.<initializer>`` (characters outside [A-Za-z0-9_] become ``_``), in bf16 rounded to
    nearest for ``dtype`` bf16."""
    import re
    import zipfile
    import numpy as np
    out = os.path.join(cache, f"trained-{dtype}.safetensors")
    if os.path.exists(out):
        return out
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise SystemExit("--set trained needs the onnx package (pip install onnx)") from e
    import ml_dtypes
    os.makedirs(cache, exist_ok=True)
    wheels = [w for w in os.listdir(cache) if w.endswith(".whl")]
    if len(wheels) < len(TRAINED_WHEELS):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", cache] + TRAINED_WHEELS, check=True)
        wheels = [w for w in os.listdir(cache) if w.endswith(".whl")]
    tensors: list[tuple[str, Any]] = []
    for wheel in sorted(wheels):
        with zipfile.ZipFile(os.path.join(cache, wheel)) as z:
            for member in sorted(n for n in z.namelist() if n.endswith(".onnx")):
                model = onnx.load_from_string(z.read(member))
                stem = re.sub(r"[^A-Za-z0-9_]", "_", os.path.splitext(os.path.basename(member))[0])
                # Weights are graph initializers (nudenet) or Constant nodes (rapidocr's export).
                found = [(init.name, numpy_helper.to_array(init)) for init in model.graph.initializer]
                found += [(node.output[0], numpy_helper.to_array(attr.t)) for node in model.graph.node
                          if node.op_type == "Constant" for attr in node.attribute if attr.name == "value"]
                for raw_name, a in found:
                    if a.dtype != np.float32 or a.ndim == 0 or a.size == 0:
                        continue
                    name = stem + "." + (re.sub(r"[^A-Za-z0-9_]", "_", raw_name).strip("_") or "t")
                    tensors.append((name, a))
    seen: dict[str, int] = {}
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, a in tensors:
        if name in seen:  # distinct after sanitising
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 0)
        if dtype == "bf16":
            b = a.astype(ml_dtypes.bfloat16).view(np.uint16).astype("<u2").tobytes()
        else:
            b = a.astype("<f4").tobytes()
        header[name] = {"dtype": "BF16" if dtype == "bf16" else "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = out + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little"))
        fh.write(text)
        for b in blobs:
            fh.write(b)
    os.replace(tmp, out)
    print(f"trained set: {len(tensors)} tensors, {sum(a.size for _, a in tensors) / 1e6:.1f} M parameters -> {out}")
    return out


def h5py_read(path: str) -> dict[str, Any]:
    """Read every tensor (/model and /optimizer) of a file with h5py (bf16 via the raw path); returns the timing JSON."""
    import h5py
    import hdf5plugin  # noqa: F401
    import numpy as np
    import ckpt_reader as cr

    t0 = time.perf_counter()
    raw = 0
    stored = 0
    with h5py.File(path, "r") as f:
        names: list[str] = []
        for root in ("model", "optimizer"):
            if root in f:
                f[root].visititems(lambda n, o, r=root: names.append(f"{r}/{n}") if isinstance(o, h5py.Dataset) else None)
        buffers: dict[tuple[str, int], np.ndarray] = {}
        for name in names:
            # Open one dataset at a time: every open dataset keeps its own chunk cache (several
            # MiB each), so holding all of them open would inflate the peak RSS.
            ds = f[name]
            tid = ds.id.get_type()
            logical = cr.logical_dtype_of(tid)
            count = math.prod(ds.shape)
            npdt = np.uint16 if logical == "bfloat16" else cr.NUMPY_DTYPES[logical]
            # Reuse one buffer per dtype, grown as needed (like ckpt bench read).
            buf = buffers.get((str(npdt), 0))
            if buf is None or buf.size < count:
                buf = np.empty(count, dtype=npdt)
                buffers[(str(npdt), 0)] = buf
            out = buf[:count].reshape(ds.shape)
            if logical == "bfloat16":
                ds.id.read(h5py.h5s.ALL, h5py.h5s.ALL, out, mtype=tid)
            else:
                ds.read_direct(out)
            raw += out.nbytes
            stored += ds.id.get_storage_size()
    return {"seconds": time.perf_counter() - t0, "raw_bytes": raw, "stored_bytes": stored}


# ----------------------------------------------------------------------------------------------
# driver

def run_child(cmd: list[str], label: str) -> dict[str, Any]:
    """Run a child that prints one JSON object last on stdout; add its peak RSS (os.wait4)."""
    # communicate()/wait() would reap the child and lose its rusage: collect output in files and
    # reap it with os.wait4, which returns that one child's own ru_maxrss.
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {proc.returncode}): {' '.join(cmd)}\n{err.strip()[-2000:]}")
    lines = [line for line in out.strip().splitlines() if line.strip()]
    try:
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("{"))
        result = json.loads("\n".join(lines[start:]))
    except (StopIteration, json.JSONDecodeError) as e:
        raise RuntimeError(f"{label}: no JSON on stdout ({e}):\n{out[-2000:]}") from e
    for key in ("seconds", "raw_bytes", "stored_bytes"):
        if not isinstance(result.get(key), (int, float)):
            raise RuntimeError(f"{label}: JSON lacks numeric {key!r}: {result}")
    result["peak_rss_mib"] = usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux
    return result


def evict(path: str) -> None:
    """Drop the file's clean pages from the page cache (for --cold reads)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def build_ckpt() -> str:
    """Build the release ckpt binary and return its path."""
    scratch = os.path.join(REPO, ".build-bench")
    cmd = ["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", "ckpt"]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)
    binpath = subprocess.run(cmd[:-2] + ["--show-bin-path"], cwd=REPO, check=True, capture_output=True,
                             text=True).stdout.strip()
    return os.path.join(binpath, "ckpt")


def bench(args: argparse.Namespace) -> int:
    """Run the whole comparison and print the tables."""
    work = args.dir or tempfile.mkdtemp(prefix="ckpt-bench-")
    os.makedirs(work, exist_ok=True)
    ckpt = None
    if not args.skip_ckpt:
        ckpt = args.ckpt or build_ckpt()
        if not os.access(ckpt, os.X_OK):
            print(f"ckpt binary not found at {ckpt}", file=sys.stderr)
            return 2
    copy_values = args.data == "ckpt" or args.optimizer
    sets = ["synthetic", "trained"] if args.set == "both" else [args.set]
    if "trained" in sets and not ckpt:
        print("--set trained needs the ckpt half (its h5py files copy ckpt's values)", file=sys.stderr)
        return 2
    me = [sys.executable, os.path.abspath(__file__)]
    results: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    classes: dict[tuple[str, str], dict[str, list[int]]] = {}
    errors: list[str] = []
    for data_set in sets:
        for dtype in args.dtypes:
            case = dtype if data_set == "synthetic" else f"trained-{dtype}"
            tag = args.preset if data_set == "synthetic" else "trained"
            ckpt_path = os.path.join(work, f"ckpt-{tag}-{dtype}.h5")
            for tool in (["ckpt"] if ckpt else []) + ["h5py"]:
                path = os.path.join(work, f"{tool}-{tag}-{dtype}.h5")
                if tool == "ckpt":
                    if data_set == "synthetic":
                        wcmd = [ckpt, "bench", "write", "--preset", args.preset, "--dtype", dtype]
                        wcmd += ["--optimizer"] if args.optimizer else []
                    else:
                        wcmd = [ckpt, "bench", "write", "--tensors", trained_safetensors(args.cache, dtype)]
                    wcmd += ["--codec", f"zstd:{ZSTD_LEVEL}", "--out", path, "--json", "--force"]
                    rcmd = [ckpt, "bench", "read", path, "--json"]
                else:
                    wcmd = me + ["_h5py-write", "--preset", args.preset, "--dtype", dtype, "--out", path,
                                 "--chunk-bytes", str(args.chunk_bytes)]
                    if copy_values or data_set == "trained":
                        if not os.path.exists(ckpt_path):
                            errors.append(f"h5py {case}: copying values needs the ckpt file {ckpt_path}")
                            continue
                        wcmd += ["--source", ckpt_path]
                    rcmd = me + ["_h5py-read", path]
                try:
                    print(f"{tool} {case}: write ...", end=" ", flush=True)
                    w = run_child(wcmd, f"{tool} write")
                    print(f"{w['raw_bytes'] / w['seconds'] / 1e9:.2f} GB/s; read ...", end=" ", flush=True)
                    if args.cold:
                        evict(path)
                    r = run_child(rcmd, f"{tool} read")
                    print(f"{r['raw_bytes'] / r['seconds'] / 1e9:.2f} GB/s", end="", flush=True)
                    results[(tool, case)] = {"write": w, "read": r}
                    if tool == "ckpt":
                        # Stock h5py + hdf5plugin reading ckpt's file (its literal-only frames).
                        if args.cold:
                            evict(path)
                        hr = run_child(me + ["_h5py-read", path], "h5py read of the ckpt file")
                        results[(tool, case)]["h5py_read"] = hr
                        print(f"; h5py reads it at {hr['raw_bytes'] / hr['seconds'] / 1e9:.2f} GB/s", end="")
                    print(flush=True)
                    classes[(tool, case)] = class_ratios(path)
                except (RuntimeError, OSError) as e:
                    print("failed")
                    errors.append(str(e))
                keep_for_h5py = tool == "ckpt" and (copy_values or data_set == "trained")
                if not args.keep and not keep_for_h5py and os.path.exists(path):
                    os.remove(path)
            if not args.keep and os.path.exists(ckpt_path):
                os.remove(ckpt_path)
    if not args.keep and not args.dir:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"preset gpt2/{args.preset}{' with AdamW state' if args.optimizer else ''}, codec shuffle+zstd:{ZSTD_LEVEL}+fletcher32, "
          f"chunk {args.chunk_bytes} B, reads {'cold (posix_fadvise DONTNEED)' if args.cold else 'warm (page cache)'}, "
          f"h5py data {'copied from the ckpt file' if copy_values else 'numpy N(0, 0.02)'}"
          f"{' (trained: copied)' if 'trained' in sets else ''}, {os.cpu_count()} CPUs")
    header = f"{'tool':<6} {'set':<13} {'raw GB':>7} {'write GB/s':>10} {'read GB/s':>9} {'stored/raw':>10} " \
             f"{'write RSS MiB':>13} {'read RSS MiB':>12}"
    print(header)
    print("-" * len(header))
    for (tool, case), res in results.items():
        w, r = res["write"], res["read"]
        print(f"{tool:<6} {case:<13} {w['raw_bytes'] / 1e9:>7.3f} {w['raw_bytes'] / w['seconds'] / 1e9:>10.2f} "
              f"{r['raw_bytes'] / r['seconds'] / 1e9:>9.2f} {w['stored_bytes'] / w['raw_bytes']:>10.4f} "
              f"{w['peak_rss_mib']:>13.0f} {r['peak_rss_mib']:>12.0f}")
    cases = list(dict.fromkeys(case for _, case in results))
    for case in cases:
        c, h = results.get(("ckpt", case)), results.get(("h5py", case))
        if not (c and h):
            continue
        def gbps(x: dict[str, Any]) -> float:
            return x["raw_bytes"] / x["seconds"]
        ratio_c = c["write"]["stored_bytes"] / c["write"]["raw_bytes"]
        ratio_h = h["write"]["stored_bytes"] / h["write"]["raw_bytes"]
        print(f"ckpt/h5py {case}: write {gbps(c['write']) / gbps(h['write']):.2f}x, "
              f"read {gbps(c['read']) / gbps(h['read']):.2f}x, "
              f"stored/raw {ratio_c / ratio_h:.4f} ({(ratio_c - ratio_h) * 100:+.2f} points), "
              f"peak RSS write {c['write']['peak_rss_mib'] / h['write']['peak_rss_mib']:.2f}x, "
              f"read {c['read']['peak_rss_mib'] / h['read']['peak_rss_mib']:.2f}x")
    for case in cases:
        c, h = results.get(("ckpt", case)), results.get(("h5py", case))
        if c and h and "h5py_read" in c:
            def rate(x: dict[str, Any]) -> float:
                return x["raw_bytes"] / x["seconds"] / 1e9
            print(f"stock h5py {case}: reads ckpt's file at {rate(c['h5py_read']):.2f} GB/s, its own (LZ frames) at "
                  f"{rate(h['read']):.2f} GB/s: {rate(c['h5py_read']) / rate(h['read']):.2f}x")
    if classes:
        print()
        print("stored/raw per tensor class (h5py's zstd level 1 is the LZ frame ckpt wrote before literal-only frames)")
        header = f"{'set':<13} {'class':<11} {'raw MB':>9} {'ckpt':>8} {'h5py':>8} {'points':>7}"
        print(header)
        print("-" * len(header))
        for case in cases:
            c, h = classes.get(("ckpt", case), {}), classes.get(("h5py", case), {})
            for cls in ("weights", "exp_avg", "exp_avg_sq", "masters"):
                if cls not in c and cls not in h:
                    continue
                rc = c[cls][1] / c[cls][0] if cls in c else float("nan")
                rh = h[cls][1] / h[cls][0] if cls in h else float("nan")
                raw = (c.get(cls) or h.get(cls))[0]
                print(f"{case:<13} {cls:<11} {raw / 1e6:>9.1f} {rc:>8.4f} {rh:>8.4f} {(rc - rh) * 100:>+7.2f}")
    if args.json:
        print(json.dumps({f"{t}/{d}": dict(v, classes=classes.get((t, d), {})) for (t, d), v in results.items()}, indent=1))
    for e in errors:
        print("error:", e, file=sys.stderr)
    if args.keep:
        print(f"files kept in {work}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point (public options, plus the hidden child modes used internally)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_h5py-write":
        p = argparse.ArgumentParser(prog="bench_store.py _h5py-write")
        p.add_argument("--preset", required=True)
        p.add_argument("--dtype", choices=sorted(DTYPES), required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--chunk-bytes", type=int, default=4 << 20)
        p.add_argument("--source")
        a = p.parse_args(argv[1:])
        print(json.dumps(h5py_write(a.preset, a.dtype, a.out, a.chunk_bytes, a.source)))
        return 0
    if argv and argv[0] == "_h5py-read":
        print(json.dumps(h5py_read(argv[1])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="1.3b", help="gpt2 preset from formats/presets.json (default 1.3b)")
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp32", "bf16"])
    parser.add_argument("--dir", help="directory for the benchmark files (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the written files")
    parser.add_argument("--ckpt", help="use this ckpt binary instead of building one")
    parser.add_argument("--skip-ckpt", action="store_true", help="run only the h5py half")
    parser.add_argument("--cold", action="store_true", help="evict each file from the page cache before reading")
    parser.add_argument("--chunk-bytes", type=int, default=4 << 20,
                        help="h5py chunk_bytes for the chunk rule (ckpt's default is 4 MiB)")
    parser.add_argument("--data", choices=["numpy", "ckpt"], default="numpy",
                        help="h5py tensor values: numpy N(0, 0.02) (default), or the very values ckpt "
                             "wrote in this run (same bytes through both codecs)")
    parser.add_argument("--optimizer", action="store_true",
                        help="add AdamW state to the synthetic model (implies --data ckpt)")
    parser.add_argument("--set", choices=["synthetic", "trained", "both"], default="synthetic",
                        help="synthetic model (default), the trained-weights set, or both")
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "ckpt-bench"),
                        help="where the trained set's wheels and safetensors files are kept")
    parser.add_argument("--json", action="store_true", help="also print all raw results as JSON")
    return bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
