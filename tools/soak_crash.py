"""Crash consistency of ckpt's writers (issue 9, fault suite), a module of tools/soak.

SIGKILL `ckpt synth`, `convert` wafer->megatron and megatron->wafer, and `step` at random
moments spread over each command's measured duration, onto a fresh target or over an existing
one (`--force`). After each kill:
- an existing target is untouched (same bytes) or replaced by a complete new one, and verifies;
- nothing appears under the final name unless complete (a file passes `ckpt verify`; a
  Megatron directory has its tracker and every rank file, each passing verify);
- every temporary left is recognisable (`<target>.tmp-<pid>-...` of the killed process) and is
  removed by `ckpt gc DIR` (two cases in three) or by the next write to the same target (the third).
SIGINT and SIGTERM at random moments must exit 130 / 143 and leave no temporary at all.

Interface: run(ckpt, workdir, scale, seed) -> list of result rows (see soak-interface).
"""
import os
import random
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_procs as sp  # noqa: E402

# Model shapes: `tiny` finishes in a blink; `larger` is big enough that kills land mid-write.
MODELS = {
    "ci": {
        "tiny": ["--preset", "tiny"],
        "larger": ["--preset", "tiny", "--layers", "2", "--hidden", "128", "--heads", "4", "--vocab", "1024", "--max-seq", "32"],
    },
    "soak": {
        "tiny": ["--preset", "tiny"],
        "larger": ["--preset", "tiny", "--layers", "4", "--hidden", "256", "--heads", "8", "--vocab", "4096", "--max-seq", "64"],
    },
}
# Small chunks: many chunk writes per tensor, so a kill lands between them.
STORE = ["--codec", "zstd:3", "--chunk-mb", "0.0625"]
KILL_POINTS = {"ci": 10, "soak": 50}
SIGNAL_POINTS = {"ci": 2, "soak": 20}
# Share of cases on the larger model (at CI `step` stays on tiny: the reference step of a debug
# build takes seconds on the larger one).
LARGER_SHARE = {"ci": 0.2, "soak": 0.5}


# Cases per fault class where the signal found a temporary in progress (SIGKILL: one was left;
# SIGINT/SIGTERM: ckpt reported deleting one),
# reported on stderr with SOAK_TIMING=1 to show the kill times reach into the writes.
MID_WRITE = {}


class Setup:
    """Inputs prepared once: per model a wafer source, a Megatron source, a batch, and an
    existing (old) output of each kind to overwrite."""

    def __init__(self, ckpt, workdir, scale):
        self.ckpt, self.workdir, self.scale = ckpt, workdir, scale
        self.base = os.path.join(workdir, "inputs")
        os.makedirs(self.base, exist_ok=True)
        self.models = MODELS[scale]
        self.durations = {}
        for m, shape in self.models.items():
            src, old = self.path(m, "src.h5"), self.path(m, "old.h5")
            for out, s in ((src, "1"), (old, "2")):
                self.must([ckpt, "synth", *shape, "--optimizer", "adamw", "--seed", s, *STORE, "--out", out])
            self.must([ckpt, "convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", self.path(m, "src_meg")])
            self.must([ckpt, "convert", old, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", self.path(m, "old_meg")])
            self.write_batch(self.path(m, "batch.h5"), shape)
            # The old targets are checked once here: later an identical copy needs no new verify.
            for old_out, n in ((old, 1), (self.path(m, "old_meg"), 4)):
                ok, why = sp.verify_output(ckpt, old_out, n)
                if not ok:
                    raise RuntimeError(f"setup: {old_out} does not verify: {why}")

    def path(self, model, name):
        return os.path.join(self.base, f"{model}_{name}")

    def must(self, args):
        r = sp.run(args, timeout=600)
        if r.rc != 0:
            raise RuntimeError(f"setup failed: {' '.join(args)}: {r.describe()}")
        return r

    def write_batch(self, path, shape):
        import h5py
        import numpy as np
        vocab = int(shape[shape.index("--vocab") + 1]) if "--vocab" in shape else 96
        seq = min(16, int(shape[shape.index("--max-seq") + 1]) if "--max-seq" in shape else 32)
        g = np.random.default_rng(5)
        with h5py.File(path, "w") as f:
            f["inputs"] = g.integers(0, vocab, size=(2, seq), dtype=np.int32)
            f["targets"] = g.integers(0, vocab, size=(2, seq), dtype=np.int32)

    def command(self, kind, model, out, seed):
        """The ckpt command of fault class `kind`, and the old target to copy for an overwrite,
        and the number of files a complete output has."""
        c = self.ckpt
        if kind == "synth":
            return [c, "synth", *self.models[model], "--optimizer", "adamw", "--seed", str(seed), *STORE, "--out", out], self.path(model, "old.h5"), 1
        if kind == "convert w->m":
            return [c, "convert", self.path(model, "src.h5"), "--to", "megatron", "--tp", "2", "--pp", "2", *STORE, "--out", out], self.path(model, "old_meg"), 4
        if kind == "convert m->w":
            return [c, "convert", self.path(model, "src_meg"), "--to", "wafer", *STORE, "--out", out], self.path(model, "old.h5"), 1
        # step: half the time from the Megatron source (assembled under TMPDIR first).
        before = self.path(model, "src_meg") if seed % 2 else self.path(model, "src.h5")
        return [c, "step", "--before", before, "--batch", self.path(model, "batch.h5"), *STORE, "--out", out], self.path(model, "old.h5"), 1

    def duration(self, kind, model):
        """Seconds the command takes to a fresh target (measured once)."""
        key = (kind, model)
        if key not in self.durations:
            d = os.path.join(self.workdir, "measure")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(os.path.join(d, "tmp"))
            out = os.path.join(d, "out" if kind == "convert w->m" else "out.h5")
            cmd, _, _ = self.command(kind, model, out, 1)
            r = sp.run(cmd, timeout=600, env=dict(os.environ, TMPDIR=os.path.join(d, "tmp")))
            if r.rc != 0:
                raise RuntimeError(f"measuring {kind}: {r.describe()}")
            self.durations[key] = r.seconds
            shutil.rmtree(d, ignore_errors=True)
        return self.durations[key]


def place_old(old, target):
    if os.path.isdir(old):
        shutil.copytree(old, target)
    else:
        shutil.copyfile(old, target)


def one_case(setup, kind, sig, case_dir, rng, index, row):
    """Runs one case; appends to `row`. Returns nothing."""
    share = 0.0 if (setup.scale == "ci" and kind == "step") else LARGER_SHARE[setup.scale]
    model = "larger" if rng.random() < share else "tiny"
    existing = rng.random() < 0.5
    tmpdir = os.path.join(case_dir, "tmp")
    os.makedirs(tmpdir)
    env = dict(os.environ, TMPDIR=tmpdir)
    target = os.path.join(case_dir, "out" if kind == "convert w->m" else "out.h5")
    seed = 10 + index
    cmd, old, files = setup.command(kind, model, target, seed)
    old_digest = None
    if existing:
        place_old(old, target)
        old_digest = sp.digest(target)
        cmd = cmd + ["--force"]
    duration = setup.duration(kind, model)
    lo = 0.0 if sig == signal.SIGKILL else 0.05
    delay = rng.uniform(lo, 1.1 * duration)
    tag = f"{kind} {signal.Signals(sig).name} case {index} model={model} existing={existing} delay={delay:.3f}s/{duration:.3f}s"
    r, sent, pid = sp.run_signalled(cmd, delay, sig, timeout=max(60.0, 20 * duration), env=env)
    row["tried"] += 1
    problems = []
    if r.hung:
        row["hangs"] += 1
        row["details"].append(f"{tag}: hang")
        return
    if r.crashed:
        row["crashes"] += 1
        row["details"].append(f"{tag}: crash {r.describe()}")
        return
    # How the process ended.
    if not sent or r.rc == 0:
        if r.rc != 0:
            problems.append(f"finished before the signal with {r.describe()}")
    elif sig == signal.SIGKILL:
        if r.rc != -signal.SIGKILL:
            problems.append(f"expected death by SIGKILL, got {r.describe()}")
    else:
        want = 128 + sig
        if r.rc != want:
            problems.append(f"expected exit {want}, got {r.describe()}")
    # The target: old bytes, or a complete new output; never partial, never lost.
    damaged = False
    if os.path.exists(target):
        if sp.digest(target) == old_digest:
            pass  # byte-identical to the old target, which verified at setup
        else:
            ok, why = sp.verify_output(setup.ckpt, target, files)
            if not ok:
                damaged = existing
                problems.append(f"incomplete output under the final name: {why}")
    elif existing:
        damaged = True
        problems.append("existing target lost")
    # Temporaries: only the signalled process's, recognisable; none at all after SIGINT/SIGTERM.
    temps = sp.temporaries(case_dir)
    foreign = [t for t in temps if int(sp.TEMP_RE.match(os.path.basename(t)).group("pid")) != pid]
    if foreign:
        problems.append(f"temporaries of other processes: {foreign}")
    if sig != signal.SIGKILL and temps:
        problems.append(f"temporaries left after {signal.Signals(sig).name}: {temps}")
    if temps if sig == signal.SIGKILL else "removed" in r.stderr:
        MID_WRITE[row["fault_class"]] = MID_WRITE.get(row["fault_class"], 0) + 1
    if sig == signal.SIGKILL and temps:
        if index % 3 != 2:
            g = sp.run([setup.ckpt, "gc", case_dir])
            if g.rc != 0:
                problems.append(f"gc failed: {g.describe()}")
            how = "ckpt gc"
        else:
            force = [] if "--force" in cmd else ["--force"]
            n = sp.run(cmd + force if os.path.exists(target) else cmd, timeout=max(60.0, 20 * duration), env=env)
            if n.rc != 0:
                problems.append(f"next write failed: {n.describe()}")
            how = "the next write"
        left = sp.temporaries(case_dir)
        if left:
            problems.append(f"{how} left temporaries {left} (before: {temps})")
    if damaged:
        row["damaged_targets"] += 1
    if problems:
        row["missed"] += 1
        row["details"].append(f"{tag}: " + "; ".join(problems))
    else:
        row["detected"] += 1


def run(ckpt, workdir, scale, seed):
    rng = random.Random(seed)
    t = time.monotonic()
    setup = Setup(ckpt, workdir, scale)
    if os.environ.get("SOAK_TIMING"):
        print(f"soak_crash: setup {time.monotonic() - t:.1f}s", file=sys.stderr)
    rows = []
    plan = [("synth", signal.SIGKILL), ("convert w->m", signal.SIGKILL), ("convert m->w", signal.SIGKILL), ("step", signal.SIGKILL),
            ("synth", signal.SIGINT), ("synth", signal.SIGTERM), ("convert w->m", signal.SIGINT), ("convert m->w", signal.SIGTERM),
            ("step", signal.SIGINT)]
    t_setup = time.monotonic()
    for kind, sig in plan:
        t0 = time.monotonic()
        name = f"kill {kind}" if sig == signal.SIGKILL else f"{signal.Signals(sig).name} {kind}"
        row = sp.row(name)
        n = KILL_POINTS[scale] if sig == signal.SIGKILL else SIGNAL_POINTS[scale]
        for i in range(n):
            case_dir = os.path.join(workdir, "cases", name.replace(" ", "_").replace(">", ""), str(i))
            os.makedirs(case_dir)
            one_case(setup, kind, sig, case_dir, rng, i, row)
            shutil.rmtree(case_dir, ignore_errors=True)
        rows.append(row)
        if os.environ.get("SOAK_TIMING"):
            print(f"soak_crash: {name}: {time.monotonic() - t0:.1f}s, {MID_WRITE.get(name, 0)} of {row['tried']} caught mid-write", file=sys.stderr)
    if os.environ.get("SOAK_TIMING"):
        print(f"soak_crash: total after setup {time.monotonic() - t_setup:.1f}s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sp.main_for(run)
