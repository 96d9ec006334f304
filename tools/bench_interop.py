#!/usr/bin/env python3
"""Interop benchmark: HF LLaMA safetensors -> Megatron legacy ``torch`` TP x PP -> HF, by ckpt
and by the Python peer, side by side in one run (not part of CI).

    python3 tools/bench_interop.py                         # 1.3B LLaMA shape, TP8 x PP4, /dev/shm
    python3 tools/bench_interop.py --layers 4 --hidden 512 --ffn 1376 --vocab 4000   # quick

Steps, each in its own child process (peak RSS from ``os.wait4``):

* the source: ``tools/make_bench_llama.py`` (venv python) writes a bf16 LLaMA-shaped HF
  checkpoint (default 1.3B: hidden 2048, 24 layers, 16 heads, 8 KV heads, ffn 5504, vocab 32000)
  in 1 GB shards, unless ``--dir``/src already holds one;
* the floor: what any tool needs to read plus write the same bytes: every source file read
  sequentially, and the same number of bytes written to a new file and fsynced (8 MiB blocks);
  each direction's floor is its bytes read at the measured read rate plus its bytes written at
  the measured write rate;
* ckpt: ``ckpt convert SRC --to megatron-torch --tp T --pp P`` and back ``--to hf``;
* the peer (``tools/bench_interop_peer.py roundtrip``, venv python with torch and safetensors):
  load every shard, split with torch, ``torch.save`` per rank, and back.

The round trips of both tools are checked: every tensor of the final HF directory has the
source's bytes (safetensors headers parsed here, tensor byte ranges compared).
Files go to ``--dir`` (default /dev/shm/ckpt-bench-interop; tmpfs, so the disk's writeback rate
does not decide the numbers) and are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BLOCK = 8 << 20


def run(argv: list[str], label: str) -> dict:
    """Runs argv; returns wall seconds, peak RSS (bytes) and the last stdout line."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(out)
        raise SystemExit(f"bench_interop: {label} failed ({' '.join(argv)})")
    lines = [l for l in out.splitlines() if l.strip()]
    return {"seconds": seconds, "peak_rss": usage.ru_maxrss * 1024, "last": lines[-1] if lines else ""}


def files_under(d: str) -> list[str]:
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs)


def dir_bytes(d: str) -> int:
    return sum(os.path.getsize(p) for p in files_under(d))


def read_sequential(src: str) -> tuple[int, float]:
    """Reads every file under src front to back in BLOCK reads; (bytes, seconds)."""
    buf = bytearray(BLOCK)
    total = 0
    t0 = time.monotonic()
    for p in files_under(src):
        with open(p, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                total += n
    return total, time.monotonic() - t0


def write_sequential(path: str, nbytes: int, block: bytes) -> float:
    """Writes nbytes to a new file at path in len(block) writes, fsyncs, removes it; seconds."""
    t0 = time.monotonic()
    with open(path, "wb", buffering=0) as f:
        left = nbytes
        while left > 0:
            n = min(left, len(block))
            f.write(memoryview(block)[:n])
            left -= n
        os.fsync(f.fileno())
    seconds = time.monotonic() - t0
    os.remove(path)
    return seconds


def read_sequential_direct(src: str) -> tuple[int, float]:
    """read_sequential with O_DIRECT (page-aligned buffer, block-aligned reads: no page cache);
    (bytes, seconds)."""
    buf = mmap.mmap(-1, BLOCK)
    total = 0
    t0 = time.monotonic()
    for p in files_under(src):
        fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
        try:
            off = 0
            while True:
                n = os.preadv(fd, [buf], off)
                if not n:
                    break
                total += n
                off += n
        finally:
            os.close(fd)
    return total, time.monotonic() - t0


def write_sequential_direct(path: str, nbytes: int, block: bytes) -> float:
    """write_sequential with O_DIRECT (the last block padded to 4096 bytes, then the file cut to
    nbytes), fsynced, removed; seconds."""
    buf = mmap.mmap(-1, len(block))
    buf.write(block)
    t0 = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        off = 0
        while off < nbytes:
            n = min(nbytes - off, len(block))
            n = (n + 4095) // 4096 * 4096
            os.pwritev(fd, [memoryview(buf)[:n]], off)
            off += n
        os.ftruncate(fd, nbytes)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.monotonic() - t0
    os.remove(path)
    return seconds


def floor_rates(src: str, scratch: str) -> tuple[float, float]:
    """(read bytes/s, write bytes/s) for plain sequential I/O of the source's bytes."""
    total, read_s = read_sequential(src)
    os.makedirs(scratch, exist_ok=True)
    write_s = write_sequential(os.path.join(scratch, "floor.bin"), total, os.urandom(BLOCK))
    return total / read_s, total / write_s


def safetensors_index(d: str) -> dict[str, tuple[str, int, int, str, list[int]]]:
    """tensor -> (file, absolute begin, end, dtype, shape) over every shard of an HF directory."""
    out = {}
    for p in files_under(d):
        if not p.endswith(".safetensors"):
            continue
        with open(p, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        for name, e in header.items():
            if name == "__metadata__":
                continue
            b, en = e["data_offsets"]
            out[name] = (p, 8 + n + b, 8 + n + en, e["dtype"], e["shape"])
    return out


def same_tensors(a: str, b: str) -> tuple[int, list[str]]:
    """(tensors compared, differences) between two HF directories."""
    ia, ib = safetensors_index(a), safetensors_index(b)
    diffs = [f"only in {a}: {n}" for n in sorted(set(ia) - set(ib))] + [f"only in {b}: {n}" for n in sorted(set(ib) - set(ia))]
    maps: dict[str, mmap.mmap] = {}

    def view(p: str) -> mmap.mmap:
        if p not in maps:
            with open(p, "rb") as f:
                maps[p] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return maps[p]

    for n in sorted(set(ia) & set(ib)):
        (pa, ba, ea, da, sa), (pb, bb, eb, db, sb) = ia[n], ib[n]
        if (da, sa) != (db, sb):
            diffs.append(f"{n}: {da}{sa} vs {db}{sb}")
        elif view(pa)[ba:ea] != view(pb)[bb:eb]:
            diffs.append(f"{n}: bytes differ")
    for m in maps.values():
        m.close()
    return len(set(ia) & set(ib)), diffs


def gb(x: float) -> str:
    return f"{x / 1e9:.2f} GB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(REPO, ".build/release/ckpt"))
    ap.add_argument("--python", default="/work/venv/bin/python", help="venv python with torch + safetensors (the peer)")
    ap.add_argument("--dir", default="/dev/shm/ckpt-bench-interop")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--pp", type=int, default=4)
    for flag, default in (("layers", 24), ("hidden", 2048), ("heads", 16), ("kv-heads", 8), ("ffn", 5504), ("vocab", 32000)):
        ap.add_argument("--" + flag, type=int, default=default)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    src = os.path.join(a.dir, "src")
    if not os.path.exists(os.path.join(src, "config.json")):
        shutil.rmtree(src, ignore_errors=True)
        shape = [f"--{k}={getattr(a, k.replace('-', '_'))}" for k in ("layers", "hidden", "heads", "kv-heads", "ffn", "vocab")]
        run([a.python, os.path.join(HERE, "make_bench_llama.py"), src] + shape, "make_bench_llama")
    for d in ("meg", "hf", "peer", "scratch"):
        shutil.rmtree(os.path.join(a.dir, d), ignore_errors=True)
    src_bytes = dir_bytes(src)
    read_rate, write_rate = floor_rates(src, os.path.join(a.dir, "scratch"))

    rows = []
    fwd = run([a.ckpt, "convert", src, "--to", "megatron-torch", "--tp", str(a.tp), "--pp", str(a.pp),
               "--out", os.path.join(a.dir, "meg"), "--json"], "ckpt convert --to megatron-torch")
    meg_bytes = dir_bytes(os.path.join(a.dir, "meg"))
    back = run([a.ckpt, "convert", os.path.join(a.dir, "meg"), "--to", "hf", "--out", os.path.join(a.dir, "hf"), "--json"],
               "ckpt convert --to hf")
    hf_bytes = dir_bytes(os.path.join(a.dir, "hf"))
    compared, diffs = same_tensors(src, os.path.join(a.dir, "hf"))
    floor_fwd = src_bytes / read_rate + meg_bytes / write_rate
    floor_back = meg_bytes / read_rate + hf_bytes / write_rate
    rows.append(("ckpt hf -> megatron-torch", fwd["seconds"], fwd["peak_rss"], floor_fwd))
    rows.append(("ckpt megatron-torch -> hf", back["seconds"], back["peak_rss"], floor_back))

    peer = None
    if not a.skip_peer:
        r = run([a.python, os.path.join(HERE, "bench_interop_peer.py"), "roundtrip", src, os.path.join(a.dir, "peer"),
                 "--tp", str(a.tp), "--pp", str(a.pp)], "peer")
        peer = json.loads(r["last"])
        peer_compared, peer_diffs = same_tensors(src, os.path.join(a.dir, "peer", "hf"))
        peer["differences"] = len(peer_diffs)

    print(f"source {src}: {gb(src_bytes)} bf16, TP{a.tp} x PP{a.pp}; floor: read {read_rate / 1e9:.2f} GB/s, "
          f"write {write_rate / 1e9:.2f} GB/s")
    print(f"ckpt round trip: {compared} tensors compared, {len(diffs)} differences" + ("" if not diffs else f" (first: {diffs[0]})"))
    print(f"{'step':30} {'seconds':>8} {'peak RSS':>10} {'floor s':>8} {'x floor':>8} {'peer s':>8} {'peer RSS':>10} {'peer/ckpt':>9}")
    peer_steps = [("hf_to_megatron", 0), ("megatron_to_hf", 1)]
    for (label, s, rss, floor), (key, _) in zip(rows, peer_steps):
        ps = peer[key]["wall_s"] if peer else None
        prss = peer[key]["peak_rss_bytes"] if peer else None
        print(f"{label:30} {s:8.2f} {gb(rss):>10} {floor:8.2f} {s / floor:8.2f}"
              + (f" {ps:8.2f} {gb(prss):>10} {ps / s:9.2f}" if peer else ""))
    if peer:
        print(f"peer round trip: {peer_compared} tensors compared, {len(peer_diffs)} differences")
    summary = {"source_bytes": src_bytes, "tp": a.tp, "pp": a.pp, "read_rate": read_rate, "write_rate": write_rate,
               "ckpt": {"to_megatron": fwd, "to_hf": back, "differences": len(diffs)},
               "floor": {"to_megatron": floor_fwd, "to_hf": floor_back}, "peer": peer}
    print(json.dumps(summary, default=str))
    if not a.keep:
        for d in ("meg", "hf", "peer", "scratch"):
            shutil.rmtree(os.path.join(a.dir, d), ignore_errors=True)
    if diffs:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
