"""Concurrency of ckpt's readers and writers (issue 9, fault suite), a module of tools/soak.

- "reader during replace": `ckpt verify` and an h5py reader open a checkpoint again and again
  while another process replaces it (`ckpt synth --force`, alternating seeds, to the same
  path). Each read must see one complete checkpoint (old or new): verify passes, h5py opens it
  and reads every dataset; never a mix, never "no such file".
- "two converts race (wafer)" / "(megatron)": two `ckpt convert` runs start at once to the same
  output. Exactly one wins; the other fails cleanly (exit 2, "already exists"), the winner's
  output verifies, and no temporary is left.

Interface: run(ckpt, workdir, scale, seed) -> list of result rows (see soak-interface).
"""
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_procs as sp  # noqa: E402

# Tiny: each replace is quick, so renames land often while a reader has the file open.
SHAPE = ["--preset", "tiny"]
STORE = ["--codec", "zstd:1", "--chunk-mb", "0.0625"]
READS = {"ci": 15, "soak": 300}
RACES = {"ci": 4, "soak": 50}


def h5py_read(path):
    """Opens `path` with h5py and reads every dataset; returns an error string or None."""
    try:
        import h5py
        import hdf5plugin  # noqa: F401 - registers the zstd filter ckpt's chunks use
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") not in ("ckpt", b"ckpt"):
                return "no format attribute"
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            count = sum(1 for n in names if n.startswith(("model/", "optimizer/")))
            if count != int(f.attrs["tensor_count"]):
                return f"{count} tensors, tensor_count says {int(f.attrs['tensor_count'])}"
            for n in names:
                f[n][()]
        return None
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        return f"{type(e).__name__}: {e}"


def reader_during_replace(ckpt, workdir, scale, rng):
    row = sp.row("reader during replace")
    d = os.path.join(workdir, "replace")
    os.makedirs(d)
    target = os.path.join(d, "ckpt.h5")
    first = sp.run([ckpt, "synth", *SHAPE, "--optimizer", "adamw", "--seed", "1", *STORE, "--out", target])
    if first.rc != 0:
        raise RuntimeError(f"setup: {first.describe()}")
    stop = threading.Event()
    writer_problems = []

    def writer():
        k = 0
        while not stop.is_set():
            k += 1
            r = sp.run([ckpt, "synth", *SHAPE, "--optimizer", "adamw", "--seed", str(1 + k % 2), *STORE, "--force", "--out", target], timeout=120)
            if r.rc != 0 or r.crashed or r.hung:
                writer_problems.append(f"replace {k}: {r.describe()}")

    t = threading.Thread(target=writer)
    t.start()
    try:
        for i in range(READS[scale]):
            time.sleep(rng.uniform(0, 0.05))
            row["tried"] += 1
            if i % 3 == 2:
                err = h5py_read(target)
                if err:
                    row["missed"] += 1
                    row["details"].append(f"read {i} (h5py): {err}")
                else:
                    row["detected"] += 1
                continue
            r = sp.run([ckpt, "verify", target], timeout=60)
            if r.hung:
                row["hangs"] += 1
                row["details"].append(f"read {i} (verify): hang")
            elif r.crashed:
                row["crashes"] += 1
                row["details"].append(f"read {i} (verify): crash {r.describe()}")
            elif r.rc != 0:
                row["missed"] += 1
                row["details"].append(f"read {i} (verify): {r.describe()}")
            else:
                row["detected"] += 1
    finally:
        stop.set()
        t.join()
    for p in writer_problems:
        row["details"].append(f"writer: {p}")
    left = sp.temporaries(d)
    if left or writer_problems:
        row["damaged_targets"] += 1 if not sp.verify_output(ckpt, target)[0] else 0
        if left:
            row["details"].append(f"temporaries left by the writer: {left}")
    shutil.rmtree(d, ignore_errors=True)
    return row


def convert_race(ckpt, workdir, scale, rng, kind):
    row = sp.row(f"two converts race ({kind})")
    base = os.path.join(workdir, f"race-{kind}")
    os.makedirs(base)
    src = os.path.join(base, "src.h5")
    r = sp.run([ckpt, "synth", *SHAPE, "--optimizer", "adamw", "--seed", "3", *STORE, "--out", src])
    if r.rc != 0:
        raise RuntimeError(f"setup: {r.describe()}")
    if kind == "wafer":
        meg = os.path.join(base, "src_meg")
        sp.run([ckpt, "convert", src, "--to", "megatron", "--tp", "2", "--pp", "1", "--out", meg])
        cmd_of = lambda out: [ckpt, "convert", meg, "--to", "wafer", *STORE, "--out", out]  # noqa: E731
        files = 1
    else:
        cmd_of = lambda out: [ckpt, "convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", *STORE, "--out", out]  # noqa: E731
        files = 4
    for i in range(RACES[scale]):
        d = os.path.join(base, f"case{i}")
        os.makedirs(d)
        out = os.path.join(d, "out.h5" if kind == "wafer" else "out")
        stagger = rng.uniform(0, 0.03)
        t0 = time.monotonic()
        procs = [subprocess.Popen(cmd_of(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)]
        time.sleep(stagger)
        procs.append(subprocess.Popen(cmd_of(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        results = []
        for p in procs:
            try:
                o, e = p.communicate(timeout=120)
                results.append(sp.Result(p.returncode, o.decode(errors="replace"), e.decode(errors="replace"), time.monotonic() - t0, False))
            except subprocess.TimeoutExpired:
                p.kill()
                o, e = p.communicate()
                results.append(sp.Result(p.returncode, "", e.decode(errors="replace"), time.monotonic() - t0, True))
        row["tried"] += 1
        tag = f"race {i} stagger={stagger:.3f}s"
        if any(x.hung for x in results):
            row["hangs"] += 1
            row["details"].append(f"{tag}: hang")
        elif any(x.crashed for x in results):
            row["crashes"] += 1
            row["details"].append(f"{tag}: crash " + " / ".join(x.describe() for x in results))
        else:
            problems = []
            codes = sorted(x.rc for x in results)
            if codes != [0, 2]:
                problems.append("exit codes " + " / ".join(x.describe() for x in results))
            else:
                loser = next(x for x in results if x.rc == 2)
                if "already exists" not in loser.stderr:
                    problems.append(f"loser's message: {loser.describe()}")
            ok, why = sp.verify_output(ckpt, out, files)
            if not ok:
                problems.append(f"output: {why}")
                row["damaged_targets"] += 1
            left = sp.temporaries(d)
            if left:
                problems.append(f"temporaries left: {left}")
            if problems:
                row["missed"] += 1
                row["details"].append(f"{tag}: " + "; ".join(problems))
            else:
                row["detected"] += 1
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    return row


def run(ckpt, workdir, scale, seed):
    rng = random.Random(seed)
    rows = []
    for f, args in ((reader_during_replace, ()), (convert_race, ("wafer",)), (convert_race, ("megatron",))):
        t0 = time.monotonic()
        rows.append(f(ckpt, workdir, scale, rng, *args))
        if os.environ.get("SOAK_TIMING"):
            print(f"soak_concurrency: {rows[-1]['fault_class']}: {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sp.main_for(run)
