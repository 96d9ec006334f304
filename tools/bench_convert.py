#!/usr/bin/env python3
"""Sharding benchmark: ``ckpt convert`` wafer -> Megatron TP x PP -> wafer (not part of CI).

For a synthetic GPT-2-family checkpoint (``--preset``, fp32, with AdamW state) it measures, in
one run and on the same directory:

* the baseline: ``ckpt bench read SRC`` (every tensor read whole, checksums verified) plus
  ``ckpt bench write --preset P --optimizer`` (the same tensors written from memory), i.e. what
  ckpt needs to read plus write the bytes once;
* ``ckpt convert SRC --to megatron --tp 1 --pp 1`` (a straight copy through the conversion code);
* ``ckpt convert SRC --to megatron --tp T --pp P`` and back ``--to wafer``; the round trip is
  checked by comparing every tensor's stored xxh3_64 with the source's;
* the peer (``--peer-preset``, default 350m): Megatron's approach reproduced in Python — load
  every tensor of the wafer file into memory (h5py + hdf5plugin), split it into the TP x PP
  shards with numpy (same rules: vocabulary padding, per-head Q/K/V interleave, column/row
  parallel, tied head copy on the last stage, optimizer state like its parameter) and write each
  rank file with h5py using the same chunk rule and filters (shuffle + zstd:1 + Fletcher32).
  ckpt's split and merge are repeated on the peer preset so the two sit side by side.

Every timed step starts from the same page-cache state: with ``--cold`` (the default when
running as root) the benchmark runs ``sync`` and drops the page cache
(``/proc/sys/vm/drop_caches``) before each one, so a step's source comes from disk whether or not
an earlier step happened to leave it cached (otherwise the 16 GB 1.3b model reads in 6 s or 15 s
depending on what the previous step evicted). ``--warm`` skips that.

The baseline of a conversion is scaled to its bytes: read seconds x (bytes it reads / raw bytes)
plus write seconds x (bytes it writes / raw bytes), where the Megatron side counts its vocabulary
padding and tied head copy (about 10% more than the wafer file at TP8 x PP4).

Seconds are the tools' own (ckpt's JSON ``seconds``; the peer times itself), so waiting for the
lock is not counted. Peak RSS of each child comes from ``os.wait4``. Every child runs under
``flock /work/bench.lock`` (override with ``--lock``) so it does not overlap other benchmarks on
the shared machine. Files go to ``--dir`` (default /dev/shm/ckpt-bench-convert, tmpfs: disk
writeback on the benchmark VM caps at ~0.47 GB/s, so on disk the numbers measure the disk) and
are deleted at the end. On tmpfs the source is deleted (after recording its hashes) before the
merge, so source + shards + merged copy need not fit at once.

    python3 tools/bench_convert.py                               # 760m on /dev/shm, peer on 350m
    python3 tools/bench_convert.py --preset 1.3b --dir /tmp/cb   # the 16 GB model, on disk
    python3 tools/bench_convert.py --preset 124m --peer-preset 124m --tp 4 --pp 2   # quick
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

GB = 1e9


# ----------------------------------------------------------------------------------------------
# the peer: load everything, split in numpy, write with h5py

def peer_split(src: str, out: str, tp: int, pp: int, divisible: int) -> dict[str, Any]:
    """Megatron-style conversion of a GPT-2 wafer file held entirely in memory."""
    import h5py
    import hdf5plugin
    import numpy as np

    import ckpt_reader as cr

    t0 = time.perf_counter()
    ck = cr.Checkpoint(src)
    cfg = ck.metadata["model_config"]
    if cfg["family"] != "gpt2" or cfg["heads"] != cfg["kv_heads"]:
        raise SystemExit("the peer implements the GPT-2 (MHA, tied head) rules only")
    states = {}  # section -> canonical name -> array (the whole model in memory)
    for info in ck.tensors():
        parts = info.key.split(".")
        section, name = ("model", info.key) if parts[0] != "optimizer" else ("/".join(parts[:2]), ".".join(parts[2:]))
        states.setdefault(section, {})[name] = ck.read(info.key)
    ck.close()
    loaded = time.perf_counter()

    L, C, H, V = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["vocab"]
    hd = C // H
    per = L // pp
    multiple = divisible * tp
    padded = (V + multiple - 1) // multiple * multiple

    def vocab_shard(x: Any, r: int) -> Any:
        full = np.zeros((padded, x.shape[1]), dtype=x.dtype)
        full[:V] = x
        rows = padded // tp
        return full[r * rows:(r + 1) * rows]

    def qkv(t: dict[str, Any], i: int, what: str, r: int) -> Any:
        q, k, v = (t[f"layers.{i}.attn.{n}.{what}"] for n in "qkv")
        rest = q.shape[1:]
        heads = np.stack([q.reshape(H, hd, *rest), k.reshape(H, hd, *rest), v.reshape(H, hd, *rest)], axis=1)
        return heads[r * H // tp:(r + 1) * H // tp].reshape(3 * hd * H // tp, *rest)

    def cols(x: Any, r: int) -> Any:
        n = x.shape[1] // tp
        return x[:, r * n:(r + 1) * n]

    def rows(x: Any, r: int) -> Any:
        n = x.shape[0] // tp
        return x[r * n:(r + 1) * n]

    def shard(t: dict[str, Any], s: int, r: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if s == 0:
            out["embedding.word_embeddings.weight"] = vocab_shard(t["embed.tokens.weight"], r)
            out["embedding.position_embeddings.weight"] = t["embed.positions.weight"]
        for j in range(per):
            i = s * per + j
            p, d = f"layers.{i}.", f"decoder.layers.{j}."
            out[d + "input_layernorm.weight"] = t[p + "attn_norm.weight"]
            out[d + "input_layernorm.bias"] = t[p + "attn_norm.bias"]
            out[d + "self_attention.linear_qkv.weight"] = qkv(t, i, "weight", r)
            out[d + "self_attention.linear_qkv.bias"] = qkv(t, i, "bias", r)
            out[d + "self_attention.linear_proj.weight"] = cols(t[p + "attn.out.weight"], r)
            out[d + "self_attention.linear_proj.bias"] = t[p + "attn.out.bias"]
            out[d + "pre_mlp_layernorm.weight"] = t[p + "mlp_norm.weight"]
            out[d + "pre_mlp_layernorm.bias"] = t[p + "mlp_norm.bias"]
            out[d + "mlp.linear_fc1.weight"] = rows(t[p + "mlp.up.weight"], r)
            out[d + "mlp.linear_fc1.bias"] = rows(t[p + "mlp.up.bias"], r)
            out[d + "mlp.linear_fc2.weight"] = cols(t[p + "mlp.down.weight"], r)
            out[d + "mlp.linear_fc2.bias"] = t[p + "mlp.down.bias"]
        if s == pp - 1:
            out["decoder.final_layernorm.weight"] = t["final_norm.weight"]
            out["decoder.final_layernorm.bias"] = t["final_norm.bias"]
            if pp > 1:
                out["output_layer.weight"] = vocab_shard(t["embed.tokens.weight"], r)
        return out

    written = 0
    for s in range(pp):
        for r in range(tp):
            rank_dir = f"mp_rank_{r:02d}" if pp == 1 else f"mp_rank_{r:02d}_{s:03d}"
            os.makedirs(os.path.join(out, "iter_0000100", rank_dir), exist_ok=True)
            path = os.path.join(out, "iter_0000100", rank_dir, "model_optim_rng.h5")
            with h5py.File(path, "w", libver="earliest") as f:
                for section, tensors in states.items():
                    for name, x in shard(tensors, s, r).items():
                        x = np.ascontiguousarray(x)
                        group = "/model/" if section == "model" else "/" + section + "/"
                        ds = f.create_dataset(group + name.replace(".", "/"), shape=x.shape, dtype=x.dtype,
                                              chunks=cr.chunk_shape(x.shape, x.dtype.itemsize), shuffle=True,
                                              fletcher32=True, **hdf5plugin.Zstd(clevel=1))
                        ds.write_direct(x)
                        written += x.nbytes
                f.flush()
                os.fsync(f.id.get_vfd_handle())
    with open(os.path.join(out, "latest_checkpointed_iteration.txt"), "w") as f:
        f.write("100\n")
    end = time.perf_counter()
    return {"seconds": end - t0, "load_seconds": loaded - t0, "bytes": written}


# ----------------------------------------------------------------------------------------------
# driver

COLD = False


def drop_caches() -> None:
    """Writes back dirty pages and empties the page cache (root only)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run(cmd: list[str], lock: str | None, label: str) -> tuple[dict[str, Any], float]:
    """Runs a child that prints JSON last; returns it and the child's peak RSS in bytes."""
    if COLD:
        drop_caches()
    full = (["flock", lock] if lock else []) + cmd
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(full, stdout=out_f, stderr=err_f, cwd=REPO)
        # wait4 reports the largest RSS of the child and its reaped descendants (flock's child).
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
    if code != 0:
        raise RuntimeError(f"{label} failed (exit {code}): {' '.join(full)}\n{err.strip()[-2000:]}")
    lines = out.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    return json.loads("\n".join(lines[start:])), usage.ru_maxrss * 1024.0


def build_ckpt() -> str:
    cmd = ["swift", "build", "-c", "release", "--scratch-path", os.path.join(REPO, ".build-bench-convert"), "--product", "ckpt"]
    print("building:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)
    bin_dir = subprocess.run(cmd[:-2] + ["--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(bin_dir, "ckpt")


def hashes(path: str) -> dict[str, int]:
    """Stored xxh3_64 of every tensor of a wafer file."""
    import ckpt_reader as cr
    with cr.Checkpoint(path) as ck:
        return {t.key: t.xxh3_64 for t in ck.tensors()}


def du(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total if os.path.isdir(path) else os.path.getsize(path)


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float, float, float | None]] = []

    def add(self, what: str, preset: str, seconds: float, nbytes: float, rss: float, base: float | None = None) -> None:
        """A row; `base` is its read + write baseline (default: the preset's plain read + write)."""
        self.rows.append((what, preset, seconds, nbytes, rss, base))
        rss_s = "" if math.isnan(rss) else f", peak RSS {rss / 2**20:.0f} MiB"
        print(f"  {what} [{preset}]: {seconds:.2f} s, {nbytes / GB / seconds:.2f} GB/s{rss_s}", flush=True)


def convert(ckpt: str, lock: str | None, src: str, out: str, target: list[str]) -> tuple[dict[str, Any], float]:
    j, rss = run([ckpt, "convert", src, "--to"] + target + ["--out", out, "--json"], lock, "convert")
    return j["report"], rss


def bench(args: argparse.Namespace) -> int:
    global COLD
    COLD = args.cold if args.cold is not None else (os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK))
    ckpt = args.ckpt or build_ckpt()
    lock = None if args.lock == "none" else args.lock
    work = args.dir
    os.makedirs(work, exist_ok=False)
    tp, pp = args.tp, args.pp
    mega = ["megatron", "--tp", str(tp), "--pp", str(pp)]
    table = Table()
    baseline: dict[str, float] = {}
    ratios: list[tuple[str, str, float]] = []
    try:
        for preset in dict.fromkeys([args.preset, args.peer_preset]):
            d = os.path.join(work, preset)
            os.makedirs(d)
            src, meg, back = os.path.join(d, "src.h5"), os.path.join(d, "meg"), os.path.join(d, "back.h5")
            print(f"{preset}: synthesising {src}", flush=True)
            synth, _ = run([ckpt, "synth", "--preset", preset, "--optimizer", "adamw", "--out", src, "--json"], lock, "synth")
            raw = float(synth["raw_bytes"])
            print(f"  {raw / GB:.2f} GB raw, {du(src) / GB:.2f} GB stored", flush=True)

            r, rss = run([ckpt, "bench", "read", src, "--json"], lock, "bench read")
            table.add("read (ckpt bench read)", preset, r["seconds"], raw, rss)
            w, rss = run([ckpt, "bench", "write", "--preset", preset, "--optimizer", "--out", os.path.join(d, "w.h5"), "--json"],
                         lock, "bench write")
            os.remove(os.path.join(d, "w.h5"))
            table.add("write (ckpt bench write)", preset, w["seconds"], raw, rss)
            base = r["seconds"] + w["seconds"]
            baseline[preset] = base
            table.add("read + write", preset, base, raw, float("nan"))

            def scaled(read_bytes: float, written_bytes: float) -> float:
                """ckpt's read + write time for these byte counts (from the measured rates)."""
                return r["seconds"] * read_bytes / raw + w["seconds"] * written_bytes / raw

            if preset == args.preset and not args.skip_copy:
                rep, rss = convert(ckpt, lock, src, os.path.join(d, "copy"), ["megatron", "--tp", "1", "--pp", "1"])
                shutil.rmtree(os.path.join(d, "copy"))
                table.add("convert wafer -> TP1xPP1 (copy)", preset, rep["seconds"], rep["bytes"], rss, scaled(raw, rep["bytes"]))
                ratios.append(("copy", preset, rep["seconds"] / scaled(raw, rep["bytes"])))

            rep, rss = convert(ckpt, lock, src, meg, mega)
            meg_bytes = float(rep["bytes"])
            table.add(f"convert wafer -> TP{tp}xPP{pp}", preset, rep["seconds"], meg_bytes, rss, scaled(raw, meg_bytes))
            ratios.append((f"wafer -> TP{tp}xPP{pp}", preset, rep["seconds"] / scaled(raw, meg_bytes)))
            before = hashes(src)
            if preset == args.peer_preset and not args.skip_peer:
                peer_out = os.path.join(d, "peer")
                p, rss = run([sys.executable, os.path.abspath(__file__), "_peer-split", src, peer_out, str(tp), str(pp)],
                             lock, "peer")
                shutil.rmtree(peer_out)
                table.add(f"peer (Python, load all) wafer -> TP{tp}xPP{pp}", preset, p["seconds"], p["bytes"], rss, scaled(raw, p["bytes"]))
                ratios.append((f"peer wafer -> TP{tp}xPP{pp}", preset, p["seconds"] / scaled(raw, p["bytes"])))
            if args.dir.startswith("/dev/shm"):
                os.remove(src)  # tmpfs holds RAM: make room for the merged copy
            rep, rss = convert(ckpt, lock, meg, back, ["wafer"])
            table.add(f"convert TP{tp}xPP{pp} -> wafer", preset, rep["seconds"], rep["bytes"], rss, scaled(meg_bytes, rep["bytes"]))
            ratios.append((f"TP{tp}xPP{pp} -> wafer", preset, rep["seconds"] / scaled(meg_bytes, rep["bytes"])))
            after = hashes(back)
            if after != before:
                bad = sorted(k for k in before if before[k] != after.get(k))[:5]
                raise RuntimeError(f"round trip changed tensors: {bad}")
            print("  round trip bit-exact (every tensor's xxh3_64 equals the source's)", flush=True)
            shutil.rmtree(d)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"| step | preset | seconds | GB/s | peak RSS MiB | read+write of its bytes, s | / (read+write) |")
    print(f"|---|---|---:|---:|---:|---:|---:|")
    for what, preset, seconds, nbytes, rss, base in table.rows:
        rss_s = "-" if math.isnan(rss) else f"{rss / 2**20:.0f}"
        b = baseline[preset] if base is None else base
        print(f"| {what} | {preset} | {seconds:.2f} | {nbytes / GB / seconds:.2f} | {rss_s} | {b:.2f} | {seconds / b:.2f} |")
    print()
    print("GB/s counts logical bytes written (megatron output includes vocabulary padding and the tied head copy).")
    print(f"page cache: {'dropped before every step (cold)' if COLD else 'left as the previous step left it (warm)'}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_peer-split":
        _, src, out, tp, pp = argv
        print(json.dumps(peer_split(src, out, int(tp), int(pp), 128)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", help="ckpt binary (default: build release into .build-bench-convert)")
    ap.add_argument("--preset", default="760m", help="GPT-2 preset for ckpt (default 760m; 1.3b needs ~45 GB on disk)")
    ap.add_argument("--peer-preset", default="350m", help="preset for the side-by-side with the Python peer")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--pp", type=int, default=4)
    ap.add_argument("--dir", default="/dev/shm/ckpt-bench-convert", help="work directory (created, then removed)")
    ap.add_argument("--lock", default="/work/bench.lock", help="flock file serialising benchmarks ('none' to skip)")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--cold", dest="cold", action="store_true", default=None,
                    help="sync and drop the page cache before every timed step (default when root)")
    ap.add_argument("--warm", dest="cold", action="store_false", help="leave the page cache alone")
    ap.add_argument("--skip-copy", action="store_true")
    return bench(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
