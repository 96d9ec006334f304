#!/usr/bin/env python3
"""Resume Megatron-LM training from a checkpoint ckpt wrote (NOT run in CI; venv python).

    /work/venv/bin/python tools/megatron_resume_check.py FIXTURE DIR [--reference REFDIR]
        [--reference-fixture FIXTURE2 [--canonical]] [--megatron-lm SRC] [--drop-arg=ARG]
        [-- extra Megatron-LM arguments]

FIXTURE is a Tests/Fixtures/interop/megatron-* directory: its expected.json holds the
Megatron-LM command line that made it. DIR is loaded by Megatron-LM's real `pretrain()`
(`load_checkpoint`: args checks, model, optimizer, scheduler, RNG) with that command line plus
`--load DIR --train-iters 3` (one step past the fixture's iteration 2), through
tools/megatron_fixture_worker.py, which fingerprints the in-memory state before saving.
With --reference, REFDIR is resumed the same way and every rank's fingerprints (model,
fp32 masters, Adam moments, learning rate, scheduler) must be identical.

--reference-fixture FIXTURE2 resumes REFDIR with FIXTURE2's command line instead (another parallel
shape, e.g. DIR a virtual-pipeline export of the non-virtual REFDIR); both runs read the same
training data (FIXTURE's data seed). Per-rank records of different shapes cannot be compared, so
with --canonical the two runs' in-memory states are mapped to canonical tensors
(tools/interop_canonical.py: model, fp32 masters, Adam moments) and compared: the first resumed
step's loss must be identical (it depends only on the loaded weights and the data), every tensor
within --atol of the other (the shapes differ in how the gradient norm's sum of squares is
grouped over ranks, so clipping may round differently; a misplaced layer or optimizer state is
orders of magnitude off).

--drop-arg=ARG removes one argument (with its value, if it has one) of the fixture's command line
(e.g. --use-distributed-optimizer for a checkpoint whose optimizer state ckpt wrote in the
non-distributed form); it may be repeated, and --reference-drop-arg=ARG removes one from
REFDIR's command line only (e.g. --num-layers-per-virtual-pipeline-stage for a REFDIR without
a virtual pipeline). Extra arguments
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


def data_seed(fixture: str) -> int:
    """The data seed tools/make_interop_fixtures.py trained FIXTURE with."""
    sys.path.insert(0, HERE)
    from make_interop_fixtures import MEGATRON

    return MEGATRON.get(os.path.basename(fixture.rstrip("/")), {}).get("data_seed", 31)


def resume(fixture: str, load: str, work: str, opts, port: int, seed: int, reference: bool = False) -> tuple[list[dict], str]:
    exp = json.load(open(os.path.join(fixture, "expected.json")))
    argv = list(exp["megatron_argv"])
    i = argv.index("--save")
    del argv[i:i + 2]
    for flag, value in (("--train-iters", "3"), ("--save-interval", "3")):
        argv[argv.index(flag) + 1] = value
    for arg in opts.drop_arg + (opts.reference_drop_arg if reference else []):
        if arg in argv:
            i = argv.index(arg)
            del argv[i:i + (2 if i + 1 < len(argv) and not argv[i + 1].startswith("--") else 1)]
    nproc = int(exp["args"]["world_size"])
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
    if opts.canonical:
        import torch

        from make_interop_fixtures import megatron_expected

        can = megatron_expected(os.path.basename(fixture.rstrip("/")), mem, {"nproc": nproc}, argv, losses)
        tensors = {}
        for r in recs:
            t = torch.load(os.path.join(mem, f"rank{r['global_rank']}.pt"), weights_only=True)
            tensors[(r["tp_rank"], r["pp_rank"], r["dp_rank"])] = t
        recs = [{"canonical": can["canonical"], "notes": can["notes"], "mem": tensors, "args": recs[0]["args"]}]
    return recs, losses[-1]


def canonical_tensors(rec: dict) -> dict:
    """{section/name: tensor} of one run's canonical in-memory state."""
    sys.path.insert(0, HERE)
    import interop_canonical as canon

    a = rec["args"]
    tp, pp = a["tensor_model_parallel_size"], a["pipeline_model_parallel_size"]
    vpp = a.get("virtual_pipeline_model_parallel_size") or 1

    class NS:
        pass

    ns = NS()
    ns.__dict__.update(a)
    cfg = canon.config_from_megatron(ns, 101)
    out = {}
    for section in ("model", "master", "exp_avg", "exp_avg_sq"):
        per_rank = {(t, p): v[section] for (t, p, d), v in rec["mem"].items() if d == 0}
        if vpp > 1:
            per_rank = canon.virtual_stages(per_rank, pp, vpp)
        merged = canon.megatron(per_rank, cfg, tp, pp * vpp, [], check_replicas=False)
        out.update({f"{section}/{k}": v for k, v in merged.items()})
    return out


def compare_canonical(mine: dict, ref: dict, loss: str, ref_loss: str, opts) -> int:
    a, b = canonical_tensors(mine), canonical_tensors(ref)
    same, close, bad, worst = 0, 0, [], 0.0
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            bad.append(f"{k}: only in {'REFDIR' if k not in a else 'DIR'}")
            continue
        x, y = a[k].float(), b[k].float()
        if x.shape != y.shape:
            bad.append(f"{k}: shape {tuple(x.shape)} vs {tuple(y.shape)}")
        elif torch_equal(a[k], b[k]):
            same += 1
        else:
            d = float((x - y).abs().max())
            worst = max(worst, d)
            if d <= opts.atol:
                close += 1
            else:
                bad.append(f"{k}: max |difference| {d:.3g}")
    for line in bad[:20]:
        print(line)
    ok = not bad and loss == ref_loss and same + close > 0
    print(("PASS " if ok else "FAIL ") + f"{opts.dir} vs {opts.reference} (canonical): first resumed step's loss {loss} vs "
          f"{ref_loss}; after it {same} canonical tensors identical, {close} within {opts.atol} "
          f"(max |difference| {worst:.3g}), {len(bad)} beyond")
    return 0 if ok else 1


def torch_equal(x, y) -> bool:
    import torch

    return x.dtype == y.dtype and torch.equal(x.view(torch.uint8) if x.dtype == torch.bfloat16 else x,
                                              y.view(torch.uint8) if y.dtype == torch.bfloat16 else y)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("fixture")
    p.add_argument("dir")
    p.add_argument("--reference")
    p.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    p.add_argument("--drop-arg", action="append", default=[])
    p.add_argument("--reference-drop-arg", action="append", default=[])
    p.add_argument("--reference-fixture")
    p.add_argument("--canonical", action="store_true")
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--port", type=int, default=29811)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    opts = p.parse_args(argv[:cut])
    opts.extra = argv[cut + 1:]
    with tempfile.TemporaryDirectory(prefix="megatron-resume-") as tmp:
        os.makedirs(os.path.join(tmp, "dir"))
        seed = data_seed(opts.fixture)
        mine, loss = resume(opts.fixture, opts.dir, os.path.join(tmp, "dir"), opts, opts.port, seed)
        if not opts.reference:
            print(f"PASS {opts.dir}: Megatron-LM resumed it, iteration 3 lm loss {loss}")
            return 0
        os.makedirs(os.path.join(tmp, "ref"))
        ref, ref_loss = resume(opts.reference_fixture or opts.fixture, opts.reference, os.path.join(tmp, "ref"), opts,
                               opts.port + 1, seed, reference=True)
        if opts.canonical:
            return compare_canonical(mine[0], ref[0], loss, ref_loss, opts)
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
