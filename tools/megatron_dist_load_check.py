#!/usr/bin/env python3
"""Load a Megatron `torch_dist` checkpoint with the real library on CPU and check what it holds
(venv python with megatron-core 0.16.1 and Megatron-LM's training code; NOT run in CI).

    /work/venv/bin/python tools/megatron_dist_load_check.py DIR --expected EXPECTED.json \
        [--tp 1] [--pp 1] [--dp 1] [--optimizer auto|distributed|plain] [--megatron-lm /tmp/mlm] \
        [--cerebras-expected] [-- extra Megatron-LM arguments, e.g. --no-load-rng]

A checkpoint with per-layer keys (decoder.layers.{i}.*) is loaded into a model built with
TransformerConfig.hetereogenous_dist_checkpoint, which makes megatron-core ask for those keys.

DIR is a checkpoint root (latest_checkpointed_iteration.txt + iter_*/) in the torch_dist format.
TP x PP x DP gloo processes (torchrun) each run Megatron-LM's own start-up of pretrain_gpt.py,
`initialize_megatron` and `setup_model_and_optimizer` with `--load DIR --ckpt-format torch_dist`:
that builds a megatron-core GPTModel of the given TP x PP from EXPECTED.json's model_config (not
from the checkpoint's args), the optimizer (the distributed optimizer, or
Float16OptimizerWithFloat16Params with --optimizer plain; auto = distributed when the
checkpoint's content_metadata names a distrib_optim_sharding_type) and calls Megatron-LM's
`load_checkpoint`, which reads common.pt (args checked by check_checkpoint_args, scheduler,
content_metadata), builds the model's and the optimizer's sharded_state_dict and runs
megatron-core's `dist_checkpointing.load` (missing keys are an error), then loads both.

What the processes then hold in memory (model parameters; each parameter's fp32 master,
exp_avg and exp_avg_sq, the distributed optimizer's DP shards gathered) is mapped to canonical
tensors by tools/interop_canonical.py and compared, fingerprint by fingerprint, with
EXPECTED.json's "canonical" section (what the source run held). When TP x PP equal the source's,
the per-rank records ("ranks", which include the vocabulary padding rows) are compared too.

The padded vocabulary is the checkpoint's (the embedding's global rows, from .metadata):
--make-vocab-size-divisible-by is set to rows / TP, so a checkpoint padded for another TP loads
as Megatron-LM users do it. A dp_reshardable optimizer checkpoint needs the same TP x PP and
grad-buffer layout: --overlap-grad-reduce and --ddp-bucket-size are taken from its args.

--cerebras-expected: EXPECTED.json is a Cerebras fixture's (tools/make_cerebras_fixtures.py; a
checkpoint ckpt converted from that .mdl). Its canonical section is {"model", "optimizer/exp_avg",
"optimizer/exp_avg_sq"} in bfloat16 (cstorch's AdamW keeps the moments in the parameter's dtype)
and it has no fp32 master, while megatron-core holds float32 moments and masters. Each loaded
float32 state tensor must then be exactly a bfloat16 value (float32 -> bfloat16 -> float32 gives
the same bits) and its bfloat16 narrowing must have the fixture's fingerprint; the master is
compared so with the fixture's model tensor (ckpt makes it by widening the parameter). The
iteration and every parameter's Adam step must be the fixture's "step". Model tensors compare
unchanged. A GPT-2 with gelu_tanh (Model Zoo's gelu_new) is built with megatron-core's bias-GeLU
fusion, its tanh GeLU, as ckpt's args say (bias_gelu_fusion).

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
sys.path.insert(0, HERE)

RUNTIME = """
--seq-length 16 --micro-batch-size 1 --train-iters 1000 --lr 1e-3 --min-lr 1e-4
--use-checkpoint-opt_param-scheduler
--attention-dropout 0 --hidden-dropout 0
--transformer-impl local --attention-backend unfused --use-cpu-initialization
--no-masked-softmax-fusion --no-bias-gelu-fusion --no-bias-swiglu-fusion --no-rope-fusion
--no-gradient-accumulation-fusion --no-bias-dropout-fusion --no-persist-layer-norm
--distributed-backend gloo --ckpt-format torch_dist
--eval-iters 0 --eval-interval 1000 --log-interval 1 --num-workers 0 --legacy-tokenizer
""".split()


def iteration_dir(root: str) -> str:
    with open(os.path.join(root, "latest_checkpointed_iteration.txt")) as f:
        text = f.read().strip()
    return os.path.join(root, "release" if text == "release" else f"iter_{int(text):07d}")


def model_argv(cfg: dict, vocab: int) -> list[str]:
    """Megatron-LM arguments of a ckpt model_config (the model the check builds)."""
    a = ["--num-layers", str(cfg["layers"]), "--hidden-size", str(cfg["hidden"]),
         "--num-attention-heads", str(cfg["heads"]), "--ffn-hidden-size", str(cfg["ffn"]),
         "--max-position-embeddings", str(cfg["max_seq"]), "--norm-epsilon", repr(float(cfg["norm_eps"])),
         "--normalization", "RMSNorm" if cfg["norm"] == "rmsnorm" else "LayerNorm",
         "--tokenizer-type", "NullTokenizer", "--vocab-size", str(vocab - 1)]
    if cfg["kv_heads"] != cfg["heads"]:
        a += ["--group-query-attention", "--num-query-groups", str(cfg["kv_heads"])]
    if cfg["activation"] == "swiglu":
        a += ["--swiglu"]
    elif cfg["activation"] == "gelu_tanh" and cfg["bias"]:
        pass  # megatron-core's tanh GeLU: bias_gelu_fusion, on unless RUNTIME's flag is removed (main)
    elif cfg["activation"] != "gelu":
        raise SystemExit(f"activation {cfg['activation']!r}: the check builds megatron-core's exact GeLU, its "
                         f"tanh GeLU with biases or SwiGLU only")
    if cfg["position"] == "rope":
        a += ["--position-embedding-type", "rope", "--rotary-base", str(int(cfg["rope_theta"]))]
    else:
        a += ["--position-embedding-type", "learned_absolute"]
    if not cfg["tie_embeddings"]:
        a += ["--untie-embeddings-and-output-weights"]
    if not cfg["bias"]:
        a += ["--disable-bias-linear"]
    return a


def checkpoint_facts(root: str) -> dict:
    """What the launcher reads from the checkpoint itself: the common dict and the embedding's
    global shape."""
    import torch
    from megatron.core.safe_globals import register_safe_globals
    from torch.distributed.checkpoint import FileSystemReader

    register_safe_globals()
    it = iteration_dir(root)
    if not os.path.exists(os.path.join(it, "metadata.json")):
        raise SystemExit(f"{it}: no metadata.json (not a finished torch_dist checkpoint)")
    common = torch.load(os.path.join(it, "common.pt"), weights_only=True, map_location="cpu")
    md = FileSystemReader(it).read_metadata()
    emb = md.state_dict_metadata.get("embedding.word_embeddings.weight")
    if emb is None:
        raise SystemExit(f"{it}/.metadata: no embedding.word_embeddings.weight")
    import re

    per_layer = any(re.match(r"decoder\.layers\.\d+\.", k) for k in md.state_dict_metadata)
    return {"common": common, "rows": int(emb.size[0]), "dtype": str(emb.properties.dtype),
            "non_homogeneous": per_layer}


def from_cerebras(exp: dict) -> dict:
    """A Cerebras fixture's expected.json in this check's form (--cerebras-expected): the
    optimizer records are bfloat16 (compared after narrowing, see compare); master = model."""
    can = exp["canonical"]
    step = int(exp["step"])
    return {"model_config": exp["model_config"], "vocab": exp["model_config"]["vocab"], "iteration": step,
            "adam_step": [float(step)], "narrowed_state": "bfloat16",
            "canonical": {"model": can["model"], "optimizer": {
                "master": can["model"], "exp_avg": can["optimizer/exp_avg"], "exp_avg_sq": can["optimizer/exp_avg_sq"]}}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--expected", required=True)
    ap.add_argument("--tp", type=int, default=1)
    ap.add_argument("--pp", type=int, default=1)
    ap.add_argument("--dp", type=int, default=1)
    ap.add_argument("--optimizer", choices=["auto", "distributed", "plain"], default="auto")
    ap.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    ap.add_argument("--port", type=int, default=29711)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cerebras-expected", action="store_true",
                    help="EXPECTED.json is a Cerebras fixture's (bfloat16 Adam state, no master): see the module doc")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    opts = ap.parse_args(argv[:cut])
    extra = argv[cut + 1:]
    with open(opts.expected) as f:
        exp = json.load(f)
    if opts.cerebras_expected:
        exp = from_cerebras(exp)
    cfg = exp["model_config"]
    vocab = int(exp.get("vocab", cfg["vocab"]))
    facts = checkpoint_facts(opts.dir)
    common = facts["common"]
    cargs = common.get("args")
    sharding = (common.get("content_metadata") or {}).get("distrib_optim_sharding_type")
    form = opts.optimizer if opts.optimizer != "auto" else ("distributed" if sharding else "plain")
    if facts["rows"] % opts.tp:
        return verdict(False, f"{opts.dir}: embedding rows {facts['rows']} are not divisible by TP {opts.tp}")
    runtime = [a for a in RUNTIME if not (a == "--no-bias-gelu-fusion" and cfg["activation"] == "gelu_tanh")]
    argv = model_argv(cfg, vocab) + runtime + [
        "--make-vocab-size-divisible-by", str(facts["rows"] // opts.tp),
        "--tensor-model-parallel-size", str(opts.tp), "--pipeline-model-parallel-size", str(opts.pp),
        "--global-batch-size", str(opts.dp), "--load", os.path.abspath(opts.dir), "--seed", "1"]
    if facts["dtype"] == "torch.bfloat16":
        argv += ["--bf16"]
    elif facts["dtype"] == "torch.float16":
        argv += ["--fp16"]
    if form == "distributed":
        argv += ["--use-distributed-optimizer"]
        if sharding == "dp_reshardable" and cargs is not None:
            if getattr(cargs, "overlap_grad_reduce", False):
                argv += ["--overlap-grad-reduce"]
            if getattr(cargs, "ddp_bucket_size", None):
                argv += ["--ddp-bucket-size", str(int(cargs.ddp_bucket_size))]
    argv += extra
    world = opts.tp * opts.pp * opts.dp
    with tempfile.TemporaryDirectory(prefix="mdist-load-") as mem:
        env = dict(os.environ, CUDA_DEVICE_MAX_CONNECTIONS="1", TORCHDYNAMO_DISABLE="1",
                   PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
        torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
        cmd = [torchrun, "--nproc-per-node", str(world), "--master-port", str(opts.port),
               os.path.abspath(__file__), "--worker", "--megatron-lm", opts.megatron_lm,
               "--memory-out", mem, *(["--non-homogeneous-layers"] if facts["non_homogeneous"] else []),
               "--"] + argv
        log = os.path.join(mem, "log.txt")
        with open(log, "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=mem).returncode
        text = open(log).read()
        if opts.verbose:
            print(text)
        if rc != 0:
            # The last line of the first failing rank's traceback (the exception).
            lines = [ln for ln in text.splitlines() if ln.startswith("[rank") and "]: " in ln
                     and not ln.split("]: ", 1)[1].startswith((" ", "Traceback"))]
            for ln in lines[:1]:
                print(ln[:600])
            return verdict(False, f"{opts.dir}: Megatron-LM load_checkpoint at TP{opts.tp} x PP{opts.pp} x DP{opts.dp} "
                                  f"failed (torchrun exit {rc}; --verbose shows the log)")
        return compare(opts, exp, cfg, vocab, mem, form, sharding, facts["rows"])


def verdict(ok: bool, what: str) -> int:
    print(("PASS " if ok else "FAIL ") + what)
    return 0 if ok else 1


def compare(opts, exp: dict, cfg: dict, vocab: int, mem: str, form: str, sharding, rows: int) -> int:
    import torch

    import interop_canonical as canon
    import interop_hash

    recs = []
    for fn in sorted(os.listdir(mem)):
        if fn.startswith("rank") and fn.endswith(".json"):
            with open(os.path.join(mem, fn)) as f:
                recs.append(json.load(f))
    notes: list[str] = []
    bad: list[str] = []
    tensors: dict[tuple[int, int], dict] = {}
    by_pos: dict[tuple[int, int], dict] = {}
    for r in sorted(recs, key=lambda r: r["global_rank"]):
        key = (r["tp_rank"], r["pp_rank"])
        if r["dp_rank"] == 0:
            by_pos[key] = r
            tensors[key] = torch.load(os.path.join(mem, f"rank{r['global_rank']}.pt"), weights_only=True)
        elif r["model"] != by_pos[key]["model"]:
            bad.append(f"DP rank {r['dp_rank']} of (tp {key[0]}, pp {key[1]}) holds other model tensors than DP rank 0")
    r0 = by_pos[(0, 0)]
    if "iteration" in exp and r0["iteration"] != exp["iteration"]:
        bad.append(f"iteration {r0['iteration']} loaded, expected {exp.get('iteration')}")
    want_step = sorted({s for r in exp.get("ranks", {}).values() for s in r.get("adam_step", [])} | set(exp.get("adam_step", [])))
    got_step = sorted({s for r in by_pos.values() for s in r["adam_step"]})
    if want_step and got_step != want_step:
        bad.append(f"Adam step {got_step} loaded, expected {want_step}")
    model = canon.megatron({k: v["model"] for k, v in tensors.items()}, cfg, opts.tp, opts.pp, notes)
    got = {"model": model}
    for st in ("master", "exp_avg", "exp_avg_sq"):
        got[st] = canon.megatron({k: v[st] for k, v in tensors.items()}, cfg, opts.tp, opts.pp, notes)
    want = exp["canonical"]
    narrowed = getattr(torch, exp["narrowed_state"]) if "narrowed_state" in exp else None
    n = 0

    def check(section: str, want_recs: dict, have: dict) -> None:
        nonlocal n
        for name, rec in sorted(want_recs.items()):
            n += 1
            t = have.get(name)
            if t is not None and narrowed is not None and section != "model":
                # float32 state of a 16-bit source: exactly representable, compared narrowed.
                if t.dtype != torch.float32 or not torch.equal(t.to(narrowed).to(torch.float32).view(torch.int32), t.view(torch.int32)):
                    bad.append(f"{section} {name}: loaded {t.dtype} is not exactly {narrowed} values")
                    continue
                t = t.to(narrowed)
            if t is None:
                bad.append(f"{section} {name}: not loaded")
            elif interop_hash.record(t) != rec:
                r = interop_hash.record(t)
                bad.append(f"{section} {name}: loaded {r['dtype']} {r['shape']} {r['xxh3_64']}, "
                           f"expected {rec['dtype']} {rec['shape']} {rec['xxh3_64']}")
        for name in sorted(set(have) - set(want_recs)):
            bad.append(f"{section} {name}: loaded but not in expected.json")

    check("model", want["model"], got["model"])
    if want["optimizer"] or any(got[st] for st in ("master", "exp_avg", "exp_avg_sq")):
        for st in ("master", "exp_avg", "exp_avg_sq"):
            check(st, want["optimizer"].get(st, {}), got[st])
    src = exp.get("args", {})
    # Per-rank records (vocabulary padding rows included) compare only at the source's TP x PP
    # and padded vocabulary.
    same_grid = ((src.get("tensor_model_parallel_size"), src.get("pipeline_model_parallel_size")) == (opts.tp, opts.pp)
                 and src.get("padded_vocab_size") == rows)
    per_rank = 0
    if same_grid:
        for (t, p), r in sorted(by_pos.items()):
            names = [f"tp{t}pp{p}", f"mp_rank_{t:02d}" + (f"_{p:03d}" if opts.pp > 1 else "")]
            ref = next((exp["ranks"][k] for k in names if k in exp.get("ranks", {})), None)
            if ref is None:
                continue
            for name, rec in ref["model"].items():
                per_rank += 1
                if r["model"].get(name) != rec:
                    bad.append(f"rank tp{t}pp{p} model {name}: differs from expected.json ranks")
            for st, group in ref["optimizer"].items():
                for name, rec in group.items():
                    per_rank += 1
                    if r["optimizer"][st].get(name) != rec:
                        bad.append(f"rank tp{t}pp{p} {st} {name}: differs from expected.json ranks")
    for line in bad:
        print(line)
    for line in notes:
        print("note: " + line)
    what = (f"{opts.dir} loaded by Megatron-LM load_checkpoint (megatron-core dist_checkpointing.load) at "
            f"TP{opts.tp} x PP{opts.pp} x DP{opts.dp}, optimizer {form}"
            f"{' from ' + sharding if sharding else ''}: {n} canonical fingerprints"
            f"{f' + {per_rank} per-rank' if per_rank else ''} compared, {len(bad)} mismatching")
    return verdict(not bad, what)


# ---------------------------------------------------------------------------------------------
# worker (one torchrun process)

def worker(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--megatron-lm", required=True)
    ap.add_argument("--memory-out", required=True)
    ap.add_argument("--non-homogeneous-layers", action="store_true")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    opts = ap.parse_args(argv)
    rest = opts.rest[1:] if opts.rest and opts.rest[0] == "--" else opts.rest

    import megatron_cpu

    megatron_cpu.add_megatron_lm_source(opts.megatron_lm)
    megatron_cpu.install()
    from functools import partial

    import torch

    sys.argv = [os.path.join(opts.megatron_lm, "pretrain_gpt.py")] + rest
    import pretrain_gpt  # noqa: E402  (Megatron-LM's own script, imported as a module)
    import megatron.core.datasets.utils as dutils
    import megatron.legacy.fused_kernels as fused_kernels
    import megatron.training.initialize as minit
    from megatron.core import mpu
    from megatron.core.enums import ModelType
    from megatron.training import get_args
    from megatron.training.initialize import initialize_megatron
    from megatron.training.training import setup_model_and_optimizer

    import interop_hash
    import megatron_fixture_worker as fw

    if opts.non_homogeneous_layers:
        fw.use_non_homogeneous_layers()
    dutils.compile_helpers = lambda: None
    fused_kernels.load = lambda args: None
    minit._warmup_jit_function = lambda: None

    import megatron.training.training as mtraining

    real_load = mtraining.load_checkpoint
    from megatron.core.optimizer.distrib_optimizer import DistributedOptimizer

    # CPU stand-ins for megatron-core 0.16.1's DistributedOptimizer without TransformerEngine or
    # Apex (it then runs torch's Adam, whose per-parameter state holds a "step" tensor; FusedAdam
    # on a GPU keeps the step in param_groups):
    # 1. state_dict(), called while building the sharded state dict to load into, asserts that
    #    the inner optimizer already holds exactly one Adam step; a fresh one holds none. The
    #    states are first created by megatron-core's own zero-gradient step
    #    (_init_optimizer_states_with_dummy_values, which it uses for fsdp_dtensor loads).
    # 2. _set_main_param_and_optimizer_states copies every key of the destination state from
    #    the loaded tensors, "step" included, which no checkpoint form carries per parameter:
    #    load_state_dict has just set it from the saved param_groups, and the per-parameter
    #    value (absent, or for dp_reshardable the template's own, i.e. the dummy step's) would
    #    overwrite it. The step set by load_state_dict is kept.
    # The load then overwrites every parameter, master weight, moment and the step.
    real_set = DistributedOptimizer._set_main_param_and_optimizer_states

    def set_states(self, model_param, tensors):
        if not self.config.use_precision_aware_optimizer_no_fp8_or_ds_fp8:
            group_index, group_order = self.model_param_group_index_map[model_param]
            main = self.optimizer.param_groups[group_index]["params"][group_order]
            state = self.optimizer.state[main]
            if "step" in state:
                tensors = {**tensors, "step": state["step"]}
        return real_set(self, model_param, tensors)

    DistributedOptimizer._set_main_param_and_optimizer_states = set_states

    def load_with_states(model, optimizer, *a, **k):
        for opt in getattr(optimizer, "chained_optimizers", None) or [optimizer]:
            if isinstance(opt, DistributedOptimizer) and len(opt.optimizer.state) == 0:
                opt._init_optimizer_states_with_dummy_values()
        return real_load(model, optimizer, *a, **k)

    mtraining.load_checkpoint = load_with_states
    initialize_megatron(allow_no_cuda=True, args_defaults={"tokenizer_type": "GPT2BPETokenizer"})
    model, optimizer, sched = setup_model_and_optimizer(
        partial(pretrain_gpt.model_provider, pretrain_gpt.gpt_builder), ModelType.encoder_or_decoder)
    args = get_args()
    fw._record_memory(opts.memory_out, args.iteration, model, optimizer, sched, interop_hash, torch, mpu)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    if "--worker" in sys.argv[1:2]:
        worker(sys.argv[1:])
    else:
        sys.exit(main())
