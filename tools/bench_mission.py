#!/usr/bin/env python3
"""Mission benchmark (issue 11): a Megatron `torch_dist` TP8 x PP4 checkpoint with
distributed-optimizer state -> one Cerebras `.mdl`, by ckpt and by the Python peer a user would
run, side by side in one run (not part of CI).

    setsid -w tools/prio.sh python3 tools/bench_mission.py             # 1.3B LLaMA shape, /work/bench-mission
    python3 tools/bench_mission.py --layers 4 --hidden 256 --ffn 688 --vocab 4000 --dir /tmp/bm   # quick

The source, made by ckpt itself in --dir (`src-<shape>-tp8pp4/`; reused when present, kept
for the next run with --keep, else deleted at the end; the outputs are deleted as soon as they
are measured and verified unless --keep-outputs):
`ckpt synth --family llama` (default: hidden 2048, 24 layers, 16 heads, 8 KV heads, ffn 5504,
vocab 32000, untied head, bf16 weights, `--optimizer adamw`: fp32 master, exp_avg, exp_avg_sq,
step 100; 1.25e9 parameters, ~17.5 GB) then `ckpt convert --to megatron-dist --tp 8 --pp 4`:
a `torch_dist` directory (`.metadata`, 32 `__R_k.distcp`, `common.pt`, `metadata.json`) whose
optimizer state is in the `fully_reshardable` form (`optimizer.state.{param,exp_avg,
exp_avg_sq}.<key>`), which is what megatron-core's distributed optimizer saves with
`--dist-ckpt-optim-fully-reshardable` (formats/megatron-dist.md).

For each size (the full one, and the peer's size when the peer does not fit in memory there),
every step a child process, the page cache dropped before each timed step (root; `--warm` keeps
it), peak RSS from `os.wait4`:

* ckpt: `ckpt convert SRC --to cerebras --codec C --out ckpt.mdl --json` (release build), for
  each C of --codecs (default `zstd:1`, ckpt's default: shuffle + zstd chunks, and `none`:
  plain chunks; cstorch reads both), each --repeat times;
* the floor: every source file read sequentially (8 MiB reads), then as many bytes as ckpt's
  `.mdl` has written to a new file and fsynced — what any tool needs to read plus write those
  bytes on this disk, measured in the same run, once through the page cache and once with
  O_DIRECT (as ckpt moves large blocks); the faster of the two is the floor;
* the peer (`tools/bench_mission_peer.py`, venv-cs python: torch 2.4 + cerebras-pytorch 2.10):
  `dcp_to_torch_save` to a temporary `.pt` (one child), then `torch.load` of it, the split and
  rename into the state dict ckpt writes, and `cstorch.save` (a second child), then a timed
  `sync` (cstorch does not fsync; ckpt does). A guard thread samples the peer's RSS and
  MemAvailable every 0.2 s and kills the peer when MemAvailable falls under --mem-margin-gib, so
  a peer that does not fit is reported as killed instead of taking the machine down;
* verification (untimed): `bench_mission_peer.py check` compares ckpt's `.mdl` with the source
  read by `torch.distributed.checkpoint` one global tensor at a time (every tensor bit for bit,
  the `__spec__`, every scalar leaf), and when the peer ran, every dataset of ckpt's `.mdl` is
  compared with the peer's (h5py + hdf5plugin, streamed in 64 MiB slabs; structure and scalar
  leaves with links resolved).

--peer-layers: `auto` (default) runs the peer at the full size when its predicted peak RSS
(`PEER_RSS_FACTOR` x source bytes + 1 GiB; the peer holds the whole state dict: measured
1.18 x the bytes + 0.1 GB at 4 and 12 layers, so ~19 GiB at 24) fits in MemAvailable minus
3 GiB, else at the largest layer count (a multiple of PP, same widths) that does; `N` forces N
layers; `0` skips the peer. The last line of output is one JSON document with every number;
the table before it is Markdown (README.md, "Benchmarks", has the reference VM's numbers).

Notes: dropping the page cache empties the guest's cache only; a VM host may still cache the
disk (cold reads ran at 2.4-8.5 GB/s on the reference VM), which is why the floor is measured
next to every ckpt step. The check loads one global DCP tensor at a time (the largest, the
stacked fp32 `linear_fc1` state, is 2.2 GB at full size: ~7 GB peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GIB = 1 << 30
PEER_RSS_FACTOR = 1.2
COLD = False

sys.path.insert(0, HERE)
from bench_interop import (  # noqa: E402  (same directory, stdlib only)
    BLOCK, dir_bytes, files_under, read_sequential, read_sequential_direct, write_sequential, write_sequential_direct)


def drop_caches() -> None:
    """Writes back dirty pages and empties the page cache (root only)."""
    os.sync()
    if COLD:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(argv: list[str], label: str, guard_margin: int | None = None, check: bool = True) -> dict:
    """Runs argv; wall seconds, peak RSS (wait4), the last stdout line parsed as JSON when it is
    JSON, and, with guard_margin, whether the guard killed it (MemAvailable < guard_margin)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=REPO)
    guard = {"killed": None, "min_available": mem_available()}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            avail = mem_available()
            guard["min_available"] = min(guard["min_available"], avail)
            if avail < guard_margin:
                guard["killed"] = f"MemAvailable {avail / GIB:.2f} GiB < {guard_margin / GIB:.2f} GiB at RSS {rss_of(proc.pid) / GIB:.2f} GiB"
                os.kill(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True) if guard_margin else None
    if watcher:
        watcher.start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    seconds = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    lines = [l for l in out.splitlines() if l.strip()]
    doc = None
    if lines:
        try:
            doc = json.loads(lines[-1])
        except ValueError:
            doc = None
    if guard_margin is None or not guard["killed"]:
        # ckpt --json prints an indented document: parse from its first line.
        start = next((i for i, l in enumerate(lines) if l.startswith("{")), None)
        if doc is None and start is not None:
            try:
                doc = json.loads("\n".join(lines[start:]))
            except ValueError:
                doc = None
    r = {"label": label, "seconds": seconds, "peak_rss": usage.ru_maxrss * 1024, "exit": code, "json": doc,
         "cpu_s": usage.ru_utime + usage.ru_stime,
         "killed": guard["killed"], "min_mem_available": guard["min_available"]}
    if code != 0 and check and not guard["killed"]:
        sys.stderr.write(out[-4000:])
        raise SystemExit(f"bench_mission: {label} failed with exit {code} ({' '.join(argv)})")
    return r


def free_bytes(d: str) -> int:
    s = os.statvfs(d)
    return s.f_bavail * s.f_frsize


def floor(src: str, out_bytes: int, scratch: str) -> dict:
    """Sequential read of every source file, then out_bytes written and fsynced: through the
    page cache, and again with O_DIRECT (ckpt moves large blocks that way); the floor is the
    faster of the two."""
    block = os.urandom(BLOCK)
    out: dict = {"read_bytes": 0, "write_bytes": out_bytes}
    for kind, rd, wr in (("buffered", read_sequential, write_sequential), ("direct", read_sequential_direct, write_sequential_direct)):
        drop_caches()
        total, read_s = rd(src)
        drop_caches()
        write_s = wr(os.path.join(scratch, "floor.bin"), out_bytes, block)
        out["read_bytes"] = total
        out[kind] = {"read_s": read_s, "write_s": write_s, "seconds": read_s + write_s}
    best = min(("buffered", "direct"), key=lambda k: out[k]["seconds"])
    out.update(out[best])
    out["kind"] = best
    return out


def shape_bytes(a, layers: int) -> int:
    """Bytes of the torch_dist source: bf16 weights + fp32 master + 2 fp32 moments (14 B/param)."""
    hd = a.hidden // a.heads
    per_layer = a.hidden * (a.heads * hd + 2 * a.kv_heads * hd) + a.heads * hd * a.hidden + 3 * a.ffn * a.hidden + 2 * a.hidden
    mult = 128 * a.tp
    padded = -(-a.vocab // mult) * mult
    return 14 * (layers * per_layer + 2 * padded * a.hidden + a.hidden)


def iter_dir(src: str) -> str:
    with open(os.path.join(src, "latest_checkpointed_iteration.txt")) as f:
        it = f.read().strip()
    return os.path.join(src, "release" if it == "release" else f"iter_{int(it):07d}")


def source(a, layers: int) -> str:
    """The cached torch_dist source of `layers` layers, made with ckpt when missing."""
    name = f"src-l{layers}-h{a.hidden}-a{a.heads}-kv{a.kv_heads}-f{a.ffn}-v{a.vocab}-tp{a.tp}pp{a.pp}"
    src = os.path.join(a.dir, name)
    try:
        if os.path.exists(os.path.join(iter_dir(src), "metadata.json")):
            return src
    except OSError:
        pass
    shutil.rmtree(src, ignore_errors=True)
    need = shape_bytes(a, layers) * 2 + 2 * GIB
    if free_bytes(a.dir) < need:
        raise SystemExit(f"bench_mission: {a.dir} has {free_bytes(a.dir) / 1e9:.1f} GB free, making the source needs ~{need / 1e9:.1f} GB")
    wafer = os.path.join(a.dir, f"{name}.wafer.h5")
    if os.path.exists(wafer):
        os.remove(wafer)
    print(f"making the source {src} ({layers} layers) with ckpt synth + convert --to megatron-dist", flush=True)
    run([a.ckpt, "synth", "--family", "llama", "--layers", str(layers), "--hidden", str(a.hidden), "--heads", str(a.heads),
         "--kv-heads", str(a.kv_heads), "--ffn", str(a.ffn), "--vocab", str(a.vocab), "--dtype", "bf16", "--optimizer", "adamw",
         "--out", wafer, "--json"], "ckpt synth")
    run([a.ckpt, "convert", wafer, "--to", "megatron-dist", "--tp", str(a.tp), "--pp", str(a.pp), "--out", src, "--json"],
        "ckpt convert --to megatron-dist")
    os.remove(wafer)
    return src


def bench_size(a, layers: int, with_peer: bool) -> dict:
    src = source(a, layers)
    it = iter_dir(src)
    work = os.path.join(a.dir, f"run-l{layers}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src_bytes = dir_bytes(src)
    res: dict = {"layers": layers, "source": src, "source_bytes": src_bytes, "ckpt": [], "floor": [], "check": []}
    peer_py = os.path.join(HERE, "bench_mission_peer.py")
    first_out = None
    for rep in range(a.repeat):
        for codec in a.codecs:
            print(f"[{layers} layers] source {src_bytes / 1e9:.2f} GB; ckpt convert --to cerebras --codec {codec}", flush=True)
            ck_out = os.path.join(work, f"ckpt-{codec.replace(':', '')}-{rep}.mdl")
            # The output, then the floor's file of the same size, beside what is kept.
            need = 2 * src_bytes + 2 * GIB
            if free_bytes(a.dir) < need:
                raise SystemExit(f"bench_mission: {a.dir} has {free_bytes(a.dir) / 1e9:.1f} GB free, "
                                 f"ckpt's output and the floor need ~{need / 1e9:.1f} GB")
            drop_caches()
            ck = run([a.ckpt, "convert", src, "--to", "cerebras", "--codec", codec, "--out", ck_out, "--json"],
                     f"ckpt convert --to cerebras --codec {codec}")
            ck["codec"] = codec
            ck["out_bytes"] = os.path.getsize(ck_out)
            ck["report_seconds"] = (ck["json"] or {}).get("report", {}).get("seconds")
            res["ckpt"].append(ck)
            print(f"  ckpt: {ck['seconds']:.2f} s, peak RSS {ck['peak_rss'] / 2**20:.0f} MiB, wrote {ck['out_bytes'] / 1e9:.2f} GB",
                  flush=True)
            fl = floor(src, ck["out_bytes"], work)
            fl["codec"] = codec
            res["floor"].append(fl)
            for kind in ("buffered", "direct"):
                k = fl[kind]
                print(f"  floor ({kind}): read {k['read_s']:.2f} s ({fl['read_bytes'] / k['read_s'] / 1e9:.2f} GB/s) + write "
                      f"{k['write_s']:.2f} s ({fl['write_bytes'] / k['write_s'] / 1e9:.2f} GB/s) = {k['seconds']:.2f} s", flush=True)
            print(f"  ckpt / floor ({fl['kind']}, the faster) {ck['seconds'] / fl['seconds']:.2f}", flush=True)
            if rep == 0:
                print("  verifying ckpt's .mdl against the source (torch DCP, tensor by tensor)", flush=True)
                v = run([a.cs_python, peer_py, "check", it, ck_out], "check", check=False)
                chk = v["json"] or {"exit": v["exit"], "differences": 1}
                chk["codec"] = codec
                res["check"].append(chk)
                print(f"    {json.dumps(chk)}", flush=True)
            if first_out is None and with_peer:
                first_out = ck_out
            elif not a.keep_outputs:
                os.remove(ck_out)
    if with_peer:
        need = 2 * src_bytes + 2 * GIB
        if free_bytes(a.dir) < need:
            raise SystemExit(f"bench_mission: {a.dir} has {free_bytes(a.dir) / 1e9:.1f} GB free, the peer needs ~{need / 1e9:.1f} GB")
        pt, pm = os.path.join(work, "peer.pt"), os.path.join(work, "peer.mdl")
        margin = int(a.mem_margin_gib * GIB)
        print(f"[{layers} layers] peer: dcp_to_torch_save", flush=True)
        drop_caches()
        p1 = run([a.cs_python, peer_py, "to-pt", it, pt], "peer to-pt", guard_margin=margin)
        peer = {"to_pt": p1}
        if not p1["killed"] and p1["exit"] == 0:
            print(f"    {p1['seconds']:.2f} s, peak RSS {p1['peak_rss'] / 2**20:.0f} MiB; torch.load + split + cstorch.save", flush=True)
            drop_caches()
            p2 = run([a.cs_python, peer_py, "to-mdl", pt, it, pm, "--delete-pt"], "peer to-mdl", guard_margin=margin)
            peer["to_mdl"] = p2
            if not p2["killed"] and p2["exit"] == 0:
                t0 = time.monotonic()
                os.sync()
                peer["sync_s"] = time.monotonic() - t0
                peer["out_bytes"] = os.path.getsize(pm)
                peer["seconds"] = p1["seconds"] + p2["seconds"] + peer["sync_s"]
                peer["peak_rss"] = max(p1["peak_rss"], p2["peak_rss"])
                print(f"    {p2['seconds']:.2f} s ({p2['json']}), peak RSS {p2['peak_rss'] / 2**20:.0f} MiB; sync {peer['sync_s']:.2f} s",
                      flush=True)
        if os.path.exists(pt):
            os.remove(pt)
        killed = peer["to_pt"]["killed"] or peer.get("to_mdl", {}).get("killed")
        if killed:
            peer["killed"] = killed
            print(f"    killed by the memory guard: {killed}", flush=True)
        res["peer"] = peer
        if "out_bytes" in peer:
            print(f"  comparing ckpt's .mdl ({a.codecs[0]}) with the peer's (h5py, every dataset)", flush=True)
            c = run([a.python, os.path.abspath(__file__), "_compare", first_out, pm], "compare", check=False)
            res["compare"] = c["json"] or {"exit": c["exit"], "differences": 1}
            print(f"    {json.dumps(res['compare'])}", flush=True)
    if not a.keep_outputs:
        shutil.rmtree(work, ignore_errors=True)
    return res


def compare(a_path: str, b_path: str) -> dict:
    """Every dataset, the structure and every scalar leaf of two cstorch files (h5py)."""
    import h5py
    import hdf5plugin  # noqa: F401
    import numpy as np

    sys.path.insert(0, HERE)
    from bench_mission_peer import leaf_value

    t0 = time.monotonic()
    diffs: list[str] = []
    fa, fb = h5py.File(a_path, "r"), h5py.File(b_path, "r")
    if fa.attrs["__spec__"] != fb.attrs["__spec__"]:
        diffs.append("__spec__ differs")
    la = sorted(k[: -len(".__metadata__")] for k in fa.attrs if k.endswith(".__metadata__"))
    lb = sorted(k[: -len(".__metadata__")] for k in fb.attrs if k.endswith(".__metadata__"))
    if la != lb:
        diffs.append(f"leaves differ: {len(set(la) ^ set(lb))} only on one side")
    kinds = {"linked_a": 0, "linked_b": 0}
    values = 0
    for k in sorted(set(la) & set(lb)):
        for f, tag in ((fa, "linked_a"), (fb, "linked_b")):
            if json.loads(f.attrs[k + ".__metadata__"])[k + ".__metadata__"].get("__TYPE__") == "LinkedObject":
                kinds[tag] += 1
        ka, va = leaf_value(fa, k, fa.attrs)
        kb, vb = leaf_value(fb, k, fb.attrs)
        if ka != kb or (ka == "value" and (va != vb or type(va) is not type(vb))):
            diffs.append(f"{k}: {ka} {va if ka != 'tensor' else ''} vs {kb} {vb if kb != 'tensor' else ''}")
        values += ka == "value"
    da, db = set(fa.keys()), set(fb.keys())
    diffs += [f"dataset only in {a_path}: {n}" for n in sorted(da - db)[:5]] + [f"dataset only in {b_path}: {n}" for n in sorted(db - da)[:5]]
    nbytes = 0
    for n in sorted(da & db):
        x, y = fa[n], fb[n]
        if x.shape != y.shape or x.dtype != y.dtype or list(x.attrs.get("dtypes", [])) != list(y.attrs.get("dtypes", [])):
            diffs.append(f"{n}: {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
            continue
        if x.shape == ():
            if x[()] != y[()]:
                diffs.append(f"{n}: {x[()]} vs {y[()]}")
            continue
        row = max(1, x.dtype.itemsize * int(np.prod(x.shape[1:])))
        step = max(1, (64 << 20) // row)
        for s in range(0, x.shape[0], step):
            if not np.array_equal(x[s:s + step], y[s:s + step]):
                diffs.append(f"{n}: bytes differ in rows {s}..{s + step}")
                break
        nbytes += x.size * x.dtype.itemsize
    return {"compare_s": round(time.monotonic() - t0, 3), "datasets_compared": len(da & db), "bytes_compared": nbytes,
            "scalar_leaves_compared": values, "linked_leaves": kinds, "differences": len(diffs), "first_differences": diffs[:10]}


def gb(x: float) -> str:
    return f"{x / 1e9:.2f} GB"


def mib(x: float) -> str:
    return f"{x / 2**20:.0f}"


def a_codecs(r: dict) -> list[str]:
    """The codecs of the first repetition."""
    seen: list[str] = []
    for c in r["ckpt"]:
        if c["codec"] in seen:
            break
        seen.append(c["codec"])
    return seen


def table(results: list[dict]) -> None:
    print()
    print("| layers | step | seconds | CPU s | peak RSS MiB | read / written | x floor |")
    print("|---:|---|---:|---:|---:|---|---:|")
    for r in results:
        L = r["layers"]
        for ck, fl in zip(r["ckpt"], r["floor"]):
            for kind in ("buffered", "direct"):
                k = fl[kind]
                mark = " (the floor)" if kind == fl["kind"] else ""
                print(f"| {L} | floor, {kind}{mark}: read the source, write {gb(fl['write_bytes'])} + fsync | {k['seconds']:.2f} | | - | "
                      f"{gb(fl['read_bytes'])} / {gb(fl['write_bytes'])} | {k['seconds'] / fl['seconds']:.2f} |")
            print(f"| {L} | **ckpt convert --to cerebras --codec {ck['codec']}** | {ck['seconds']:.2f} | {ck['cpu_s']:.1f} | "
                  f"{mib(ck['peak_rss'])} | {gb(r['source_bytes'])} / {gb(ck['out_bytes'])} | {ck['seconds'] / fl['seconds']:.2f} |")
        p = r.get("peer")
        if not p:
            continue
        ck = r["ckpt"][0]
        p1 = p["to_pt"]
        if p1["killed"]:
            print(f"| {L} | peer dcp_to_torch_save | killed after {p1['seconds']:.1f} s | | {mib(p1['peak_rss'])} | {p1['killed']} | - |")
            continue
        print(f"| {L} | peer dcp_to_torch_save (.pt) | {p1['seconds']:.2f} | {p1['cpu_s']:.1f} | {mib(p1['peak_rss'])} | | |")
        p2 = p.get("to_mdl")
        if not p2:
            continue
        if p2["killed"]:
            print(f"| {L} | peer torch.load + split + cstorch.save | killed after {p2['seconds']:.1f} s | | {mib(p2['peak_rss'])} | "
                  f"{p2['killed']} | - |")
            continue
        j = p2["json"] or {}
        print(f"| {L} | peer torch.load {j.get('torch_load_s', 0):.2f} + split {j.get('split_s', 0):.2f} + cstorch.save "
              f"{j.get('cstorch_save_s', 0):.2f} (+ imports) | {p2['seconds']:.2f} | {p2['cpu_s']:.1f} | {mib(p2['peak_rss'])} | | |")
        print(f"| {L} | peer sync (cstorch does not fsync) | {p['sync_s']:.2f} | | - | | |")
        # The peer's floor: the same read, its own bytes at the write rate of the nearest-sized floor.
        fl = min(r["floor"], key=lambda f: abs(f["write_bytes"] - p["out_bytes"]))
        pf = fl["read_s"] + fl["write_s"] * p["out_bytes"] / fl["write_bytes"]
        print(f"| {L} | **peer total** | {p['seconds']:.2f} | {p1['cpu_s'] + p2['cpu_s']:.1f} | {mib(p['peak_rss'])} | "
              f"{gb(r['source_bytes'])} / {gb(p['out_bytes'])} | {p['seconds'] / pf:.2f} |")
        for c in r["ckpt"][: len(a_codecs(r))]:
            print(f"| {L} | peer / ckpt --codec {c['codec']} | {p['seconds'] / c['seconds']:.2f}x | | {p['peak_rss'] / c['peak_rss']:.1f}x | | |")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_compare":
        r = compare(sys.argv[2], sys.argv[3])
        print(json.dumps(r))
        sys.exit(1 if r["differences"] else 0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(REPO, ".build/release/ckpt"))
    ap.add_argument("--python", default="/work/venv/bin/python", help="python with h5py + hdf5plugin (the comparison)")
    ap.add_argument("--cs-python", default="/work/venv-cs/bin/python", help="python with torch 2.4 + cerebras-pytorch 2.10 (the peer)")
    ap.add_argument("--dir", default="/work/bench-mission")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--pp", type=int, default=4)
    for flag, default in (("layers", 24), ("hidden", 2048), ("heads", 16), ("kv-heads", 8), ("ffn", 5504), ("vocab", 32000)):
        ap.add_argument("--" + flag, type=int, default=default)
    ap.add_argument("--peer-layers", default="auto", help="auto, a layer count (multiple of --pp), or 0 to skip the peer")
    ap.add_argument("--mem-margin-gib", type=float, default=1.5, help="the guard kills the peer below this MemAvailable")
    ap.add_argument("--codecs", default="zstd:1,none", help="ckpt's --codec values to time (the first is compared with the peer)")
    ap.add_argument("--repeat", type=int, default=1, help="time each ckpt convert + floor pair this many times")
    ap.add_argument("--warm", action="store_true", help="do not drop the page cache before each timed step")
    ap.add_argument("--keep", action="store_true", help="keep the sources (reused by the next run)")
    ap.add_argument("--keep-outputs", action="store_true", help="keep every .mdl written (needs room for all of them)")
    a = ap.parse_args()
    a.codecs = [c for c in a.codecs.split(",") if c]
    global COLD
    COLD = not a.warm and os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK)
    os.makedirs(a.dir, exist_ok=True)
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    avail0 = mem_available()
    print(f"load average {' '.join(load0)}; MemAvailable {avail0 / GIB:.1f} GiB; {a.dir}: {free_bytes(a.dir) / 1e9:.1f} GB free; "
          f"page cache {'dropped before each step' if COLD else 'warm'}", flush=True)

    budget = avail0 - 3 * GIB
    if a.peer_layers == "auto":
        fits = [L for L in range(a.pp, a.layers + 1, a.pp) if PEER_RSS_FACTOR * shape_bytes(a, L) + GIB <= budget]
        peer_layers = a.layers if a.layers in fits else (max(fits) if fits else 0)
    else:
        peer_layers = int(a.peer_layers)
    if peer_layers:
        print(f"peer at {peer_layers} layers (predicted peak RSS {(PEER_RSS_FACTOR * shape_bytes(a, peer_layers) + GIB) / GIB:.1f} GiB, "
              f"budget {budget / GIB:.1f} GiB)", flush=True)
    results = [bench_size(a, a.layers, peer_layers == a.layers)]
    if peer_layers and peer_layers != a.layers:
        if not a.keep:  # room for the next size's source, outputs and floor file
            shutil.rmtree(results[0]["source"], ignore_errors=True)
        results.append(bench_size(a, peer_layers, True))
    table(results)
    with open("/proc/loadavg") as f:
        load1 = f.read().split()[:3]
    print(f"\nload average before {' '.join(load0)}, after {' '.join(load1)}; page cache {'cold' if COLD else 'warm'}")
    bad = [r for r in results if any(c.get("differences", 1) for c in r["check"]) or (r.get("compare") or {}).get("differences", 0)]
    print(json.dumps({"results": results, "load_before": load0, "load_after": load1, "mem_available_before": avail0,
                      "cold": COLD, "verified": not bad}, default=str))
    if not a.keep:
        for r in results:
            shutil.rmtree(r["source"], ignore_errors=True)
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
