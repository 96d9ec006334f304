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

Peak RSS of every child is taken from ``os.wait4`` (the child's own ``ru_maxrss``), so both tools
are measured the same way, each in its own process. Reads are warm (the file was just written and
stays in the page cache; dropping caches needs root) unless ``--cold`` is given, which evicts the
file's pages with ``posix_fadvise(DONTNEED)`` before each read.

    python3 tools/bench_store.py                    # 1.3b, fp32 and bf16 (about 5 + 2.6 GB per tool)
    python3 tools/bench_store.py --preset 124m      # quick check
    python3 tools/bench_store.py --preset 124m --skip-ckpt    # h5py half only
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


def h5py_write(preset: str, dtype: str, path: str, chunk_bytes: int, source: str | None = None) -> dict[str, Any]:
    """Write the preset with h5py + hdf5plugin; returns {seconds, raw_bytes, stored_bytes}.

    Values come from numpy (see the module docstring), or, with ``source``, are copied from the
    same-named tensors of that (ckpt-written) checkpoint, read untimed.
    """
    import datetime
    import h5py
    import hdf5plugin
    import ml_dtypes
    import numpy as np
    import ckpt_reader as cr

    config, tensors = _model_tensors(preset)
    logical = DTYPES[dtype]
    size = cr.DTYPE_SIZES[logical]
    rng = np.random.default_rng(SEED)
    tmp = f"{path}.tmp-{os.getpid()}"
    timed = 0.0
    raw = 0
    t0 = time.perf_counter()
    f = h5py.File(tmp, "w", libver="earliest")
    timed += time.perf_counter() - t0
    bf16 = cr.bfloat16_type()
    src = cr.Checkpoint(source) if source else None
    for name, shape in tensors:
        if src is not None:
            x = src.read(name)
            if tuple(x.shape) != tuple(shape) or str(x.dtype) != str(cr.NUMPY_DTYPES[logical]):
                raise SystemExit(f"{source}: {name} is {x.dtype}{list(x.shape)}, expected {logical}{list(shape)}")
        else:
            x = _generate(rng, name, shape, config["layers"])
            if logical == "bfloat16":
                x = x.astype(ml_dtypes.bfloat16)
        if logical == "bfloat16":
            x = x.view(np.uint16)
        digest = np.uint64(cr.xxh3_64(x))
        chunks = cr.chunk_shape(shape, size, chunk_bytes)
        path_parts = cr.key_to_path(name)
        t0 = time.perf_counter()
        if logical == "float32":
            ds = f.create_dataset(path_parts, shape=shape, dtype="<f4", chunks=chunks, shuffle=True,
                                  fletcher32=True, **hdf5plugin.Zstd(clevel=ZSTD_LEVEL))
            ds.write_direct(x)
        else:
            parent, leaf = path_parts.rsplit("/", 1)
            group = f.require_group(parent)
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk(chunks)
            dcpl.set_shuffle()
            dcpl.set_filter(cr.ZSTD_FILTER_ID, h5py.h5z.FLAG_OPTIONAL, (ZSTD_LEVEL,))
            dcpl.set_fletcher32()
            dsid = h5py.h5d.create(group.id, leaf.encode(), bf16, h5py.h5s.create_simple(shape, shape), dcpl=dcpl)
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, x, mtype=bf16)
            ds = group[leaf]
        timed += time.perf_counter() - t0
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
    f.attrs["tensor_count"] = np.int64(len(tensors))
    f.attrs["parameter_count"] = np.int64(sum(math.prod(s) for _, s in tensors))
    f.attrs["step"] = np.int64(0)
    f.attrs["model_config"] = json.dumps(config)
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
        stored = sum(f[cr.key_to_path(n)].id.get_storage_size() for n, _ in tensors)
    return {"seconds": timed, "raw_bytes": raw, "stored_bytes": stored}


def h5py_read(path: str) -> dict[str, Any]:
    """Read every tensor of a file with h5py (bf16 via the raw path); returns the timing JSON."""
    import h5py
    import hdf5plugin  # noqa: F401
    import numpy as np
    import ckpt_reader as cr

    t0 = time.perf_counter()
    raw = 0
    stored = 0
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f["model"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        buffers: dict[tuple[str, int], np.ndarray] = {}
        for name in names:
            # Open one dataset at a time: every open dataset keeps its own chunk cache (several
            # MiB each), so holding all of them open would inflate the peak RSS.
            ds = f["model"][name]
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
    """Run the whole comparison and print the table."""
    work = args.dir or tempfile.mkdtemp(prefix="ckpt-bench-")
    os.makedirs(work, exist_ok=True)
    ckpt = None
    if not args.skip_ckpt:
        ckpt = args.ckpt or build_ckpt()
        if not os.access(ckpt, os.X_OK):
            print(f"ckpt binary not found at {ckpt}", file=sys.stderr)
            return 2
    me = [sys.executable, os.path.abspath(__file__)]
    results: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    errors: list[str] = []
    for dtype in args.dtypes:
        ckpt_path = os.path.join(work, f"ckpt-{args.preset}-{dtype}.h5")
        for tool in (["ckpt"] if ckpt else []) + ["h5py"]:
            path = os.path.join(work, f"{tool}-{args.preset}-{dtype}.h5")
            if tool == "ckpt":
                wcmd = [ckpt, "bench", "write", "--preset", args.preset, "--dtype", dtype,
                        "--codec", f"zstd:{ZSTD_LEVEL}", "--out", path, "--json"]
                rcmd = [ckpt, "bench", "read", path, "--json"]
            else:
                wcmd = me + ["_h5py-write", "--preset", args.preset, "--dtype", dtype, "--out", path,
                             "--chunk-bytes", str(args.chunk_bytes)]
                if args.data == "ckpt":
                    if not os.path.exists(ckpt_path):
                        errors.append(f"h5py {dtype}: --data ckpt needs the ckpt file {ckpt_path}")
                        continue
                    wcmd += ["--source", ckpt_path]
                rcmd = me + ["_h5py-read", path]
            try:
                print(f"{tool} {dtype}: write ...", end=" ", flush=True)
                w = run_child(wcmd, f"{tool} write")
                print(f"{w['raw_bytes'] / w['seconds'] / 1e9:.2f} GB/s; read ...", end=" ", flush=True)
                if args.cold:
                    evict(path)
                r = run_child(rcmd, f"{tool} read")
                print(f"{r['raw_bytes'] / r['seconds'] / 1e9:.2f} GB/s", flush=True)
                results[(tool, dtype)] = {"write": w, "read": r}
            except (RuntimeError, OSError) as e:
                print("failed")
                errors.append(str(e))
            keep_for_h5py = tool == "ckpt" and args.data == "ckpt"
            if not args.keep and not keep_for_h5py and os.path.exists(path):
                os.remove(path)
        if not args.keep and os.path.exists(ckpt_path):
            os.remove(ckpt_path)
    if not args.keep and not args.dir:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"preset gpt2/{args.preset}, codec shuffle+zstd:{ZSTD_LEVEL}+fletcher32, chunk {args.chunk_bytes} B, "
          f"reads {'cold (posix_fadvise DONTNEED)' if args.cold else 'warm (page cache)'}, "
          f"h5py data {'copied from the ckpt file' if args.data == 'ckpt' else 'numpy N(0, 0.02)'}, "
          f"{os.cpu_count()} CPUs")
    header = f"{'tool':<6} {'dtype':<5} {'raw GB':>7} {'write GB/s':>10} {'read GB/s':>9} {'stored/raw':>10} " \
             f"{'write RSS MiB':>13} {'read RSS MiB':>12}"
    print(header)
    print("-" * len(header))
    for (tool, dtype), res in results.items():
        w, r = res["write"], res["read"]
        print(f"{tool:<6} {dtype:<5} {w['raw_bytes'] / 1e9:>7.2f} {w['raw_bytes'] / w['seconds'] / 1e9:>10.2f} "
              f"{r['raw_bytes'] / r['seconds'] / 1e9:>9.2f} {w['stored_bytes'] / w['raw_bytes']:>10.4f} "
              f"{w['peak_rss_mib']:>13.0f} {r['peak_rss_mib']:>12.0f}")
    for dtype in args.dtypes:
        c, h = results.get(("ckpt", dtype)), results.get(("h5py", dtype))
        if not (c and h):
            continue
        def gbps(x: dict[str, Any]) -> float:
            return x["raw_bytes"] / x["seconds"]
        ratio_c = c["write"]["stored_bytes"] / c["write"]["raw_bytes"]
        ratio_h = h["write"]["stored_bytes"] / h["write"]["raw_bytes"]
        print(f"ckpt/h5py {dtype}: write {gbps(c['write']) / gbps(h['write']):.2f}x, "
              f"read {gbps(c['read']) / gbps(h['read']):.2f}x, "
              f"stored/raw {ratio_c / ratio_h:.4f} ({(ratio_c / ratio_h - 1) * 100:+.2f}%), "
              f"peak RSS write {c['write']['peak_rss_mib'] / h['write']['peak_rss_mib']:.2f}x, "
              f"read {c['read']['peak_rss_mib'] / h['read']['peak_rss_mib']:.2f}x")
    if args.json:
        print(json.dumps({f"{t}/{d}": v for (t, d), v in results.items()}, indent=1))
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
    parser.add_argument("--json", action="store_true", help="also print all raw results as JSON")
    return bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
