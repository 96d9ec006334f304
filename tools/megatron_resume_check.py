#!/usr/bin/env python3
"""Resume Megatron-LM training from a checkpoint ckpt wrote (NOT run in CI; venv python).

    /work/venv/bin/python tools/megatron_resume_check.py FIXTURE DIR [--reference REFDIR]
        [--megatron-lm SRC] [--drop-arg=ARG] [-- extra Megatron-LM arguments]

FIXTURE is a Tests/Fixtures/interop/megatron-* directory: its expected.json holds the
Megatron-LM command line that made it. DIR is loaded by Megatron-LM's real `pretrain()`
(`load_checkpoint`: args checks, model, optimizer, scheduler, RNG) with that command line plus
`--load DIR --train-iters 3` (one step past the fixture's iteration 2), through
tools/megatron_fixture_worker.py, which fingerprints the in-memory state before saving.
With --reference, REFDIR is resumed the same way and every rank's fingerprints (model,
fp32 masters, Adam moments, learning rate, scheduler) must be identical.

--drop-arg=ARG removes one argument of the fixture's command line (e.g. --use-distributed-optimizer
for a checkpoint whose optimizer state ckpt wrote in the non-distributed form). Extra arguments
follow `--`: `--no-load-rng`, `--override-opt_param-scheduler` or
`--use-checkpoint-opt_param-scheduler` (the fixture's command line has --train-iters 2, so its
scheduler differs from the resumed run's).

Ends with one line "PASS ..." or "FAIL ..." and exits 0 or 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def resume(fixture: str, load: str, work: str, opts, port: int) -> tuple[list[dict], str]:
    exp = json.load(open(os.path.join(fixture, "expected.json")))
    argv = list(exp["megatron_argv"])
    i = argv.index("--save")
    del argv[i:i + 2]
    for flag, value in (("--train-iters", "3"), ("--save-interval", "3")):
        argv[argv.index(flag) + 1] = value
    if opts.drop_arg and opts.drop_arg in argv:
        argv.remove(opts.drop_arg)
    nproc = int(exp["args"]["world_size"])
    seed = {"megatron-llama-tp2pp2": 31, "megatron-gpt2-tp2pp2-dp2": 32}.get(os.path.basename(fixture.rstrip("/")), 31)
    mem = os.path.join(work, "mem")
    os.makedirs(mem)
    env = dict(os.environ, CUDA_DEVICE_MAX_CONNECTIONS="1", TORCHDYNAMO_DISABLE="1", PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--nproc-per-node", str(nproc), "--master-port", str(port),
           os.path.join(HERE, "megatron_fixture_worker.py"), "--megatron-lm", opts.megatron_lm,
           "--memory-out", mem, "--data-seed", str(seed), "--"] + argv + [
           "--load", os.path.abspath(load), "--save", os.path.join(work, "save")] + opts.extra
    log = os.path.join(work, "log.txt")
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=work).returncode
    text = open(log).read()
    losses = [line.split("lm loss:")[1].split("|")[0].strip() for line in text.splitlines() if "lm loss:" in line]
    if rc != 0 or not losses:
        errors = sorted({line.split("]: ", 1)[-1] for line in text.splitlines() if "Error:" in line})
        raise SystemExit(f"FAIL {load}: Megatron-LM did not resume: {'; '.join(errors)[:600] or text[-600:]}")
    recs = [json.load(open(os.path.join(mem, f))) for f in sorted(os.listdir(mem)) if f.endswith(".json")]
    return recs, losses[-1]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("fixture")
    p.add_argument("dir")
    p.add_argument("--reference")
    p.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    p.add_argument("--drop-arg", default="")
    p.add_argument("--port", type=int, default=29811)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    opts = p.parse_args(argv[:cut])
    opts.extra = argv[cut + 1:]
    with tempfile.TemporaryDirectory(prefix="megatron-resume-") as tmp:
        os.makedirs(os.path.join(tmp, "dir"))
        mine, loss = resume(opts.fixture, opts.dir, os.path.join(tmp, "dir"), opts, opts.port)
        if not opts.reference:
            print(f"PASS {opts.dir}: Megatron-LM resumed it, iteration 3 lm loss {loss}")
            return 0
        os.makedirs(os.path.join(tmp, "ref"))
        ref, ref_loss = resume(opts.fixture, opts.reference, os.path.join(tmp, "ref"), opts, opts.port + 1)
    bad = 0
    for a, b in zip(mine, ref):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                print(f"rank {a.get('global_rank')}: {k} differs")
                bad += 1
    ok = bad == 0 and loss == ref_loss and len(mine) == len(ref)
    print(("PASS " if ok else "FAIL ") + f"{opts.dir} vs {opts.reference}: resumed loss {loss} vs {ref_loss}, "
          f"{len(mine)} ranks' in-memory state after one more step {'identical' if bad == 0 else f'differs in {bad} fields'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
