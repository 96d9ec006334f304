#!/usr/bin/env python3
"""Cross-check ckpt's outputs with the real libraries (NOT run in CI).

    /work/venv/bin/python tools/interop_check.py hf DIR --reference REFDIR
    /work/venv/bin/python tools/interop_check.py torch-load FILE...
    /work/venv/bin/python tools/interop_check.py megatron DIR --reference REFDIR [--megatron-lm SRC]
    /work/venv/bin/python tools/interop_check.py semantics DIR [--hf-reference HFDIR]
    python3 tools/interop_check.py canonical FILE.h5 --expected expected.json

hf          load DIR and REFDIR with transformers from_pretrained (dtype="auto"); every
            state_dict tensor must be bit-identical (name, dtype, shape, bytes) and the logits on
            fixed tokens identical.
torch-load  torch.load(path, weights_only=True) after megatron-core's register_safe_globals()
            (argparse.Namespace & co. added by hand when megatron-core is absent).
megatron    legacy `torch` format directories. For every (TP, PP) rank (TP x PP gloo processes on
            CPU): build a fresh megatron-core GPTModel from the args stored in the rank file
            (Megatron-LM's gpt_builder and core_transformer_config_from_args), load the model
            state dict with load_state_dict(strict=True), build the optimizer with Megatron-LM's
            get_megatron_optimizer_config + megatron-core get_megatron_optimizer and load the
            non-distributed optimizer state with optimizer.load_state_dict; a distrib_optim.pt is
            decoded with the bucket walk of tools/interop_canonical.py. Then every model tensor
            and every parameter's fp32 master / exp_avg / exp_avg_sq are compared with REFDIR's
            (loaded the same way). Prints one line per mismatching tensor.
semantics   DIR (legacy torch format): megatron-core runs the rank files at their own TP x PP
            (forward-only pipeline schedule, fp32, gloo) and transformers runs the weights merged
            by tools/interop_canonical.py, or --hf-reference HFDIR; logits must agree to
            --tolerance (relative). Proves that a mapping means what Megatron computes.
canonical   ckpt's HDF5 output read with tools/ckpt_reader.py (system python3: h5py, hdf5plugin,
            xxhash; no torch) against the "canonical" section of an expected.json: every
            canonical model tensor and optimizer state must exist with the same dtype, shape and
            XXH3-64 of its bytes.

Every subcommand ends with one line "PASS ..." or "FAIL ..." and exits 0 or 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def verdict(ok: bool, what: str) -> int:
    print(("PASS " if ok else "FAIL ") + what)
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# hf

def _same_tensor(a, b) -> bool:
    import torch

    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        return False
    a, b = a.detach().contiguous().reshape(-1), b.detach().contiguous().reshape(-1)
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8)) if a.numel() else True


def cmd_hf(opts) -> int:
    import torch
    from transformers import AutoModelForCausalLM

    models = [AutoModelForCausalLM.from_pretrained(d, dtype="auto").eval() for d in (opts.dir, opts.reference)]
    sds = [m.state_dict() for m in models]
    bad = 0
    for name in sorted(set(sds[0]) | set(sds[1])):
        if name not in sds[0] or name not in sds[1]:
            print(f"{name}: only in {'REFDIR' if name not in sds[0] else 'DIR'}")
            bad += 1
            continue
        a, b = sds[0][name], sds[1][name]
        if not _same_tensor(a, b):
            print(f"{name}: DIR {a.dtype} {tuple(a.shape)} vs REFDIR {b.dtype} {tuple(b.shape)}: bytes differ")
            bad += 1
    vocab = models[1].config.vocab_size
    tokens = (torch.arange(32).reshape(2, 16) * 37 + 5) % vocab
    with torch.no_grad():
        logits = [m(input_ids=tokens).logits for m in models]
    same_logits = _same_tensor(logits[0], logits[1])
    if not same_logits:
        diff = (logits[0].float() - logits[1].float()).abs().max().item()
        print(f"logits differ: max |diff| {diff}")
    return verdict(bad == 0 and same_logits,
                   f"hf {opts.dir} vs {opts.reference}: {len(sds[0])} tensors, {bad} mismatching, "
                   f"logits {'identical' if same_logits else 'DIFFER'}")


# ---------------------------------------------------------------------------------------------
# torch-load

def register_safe_globals() -> str:
    import torch

    try:
        from megatron.core.safe_globals import register_safe_globals as reg

        reg()
        return "megatron.core.safe_globals.register_safe_globals"
    except ImportError:
        import argparse as ap
        import io
        import types

        import numpy as np

        extra = [ap.Namespace, types.SimpleNamespace, io.BytesIO, np.ndarray, np.dtype]
        try:
            extra.append(np.dtypes.UInt32DType)
            extra.append(np._core.multiarray._reconstruct)
        except AttributeError:
            pass
        torch.serialization.add_safe_globals(extra)
        return "torch.serialization.add_safe_globals (megatron-core not installed)"


def cmd_torch_load(opts) -> int:
    import torch

    how = register_safe_globals()
    bad = 0
    for path in opts.files:
        try:
            obj = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as e:  # noqa: BLE001 (report every failure, one line each)
            print(f"{path}: torch.load(weights_only=True) failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            bad += 1
            continue
        n = _count_tensors(obj, torch)
        keys = list(obj.keys())[:8] if isinstance(obj, dict) else type(obj).__name__
        print(f"{path}: ok, {n} tensors, top level {keys}")
    return verdict(bad == 0, f"torch-load: {len(opts.files) - bad}/{len(opts.files)} files load with "
                             f"weights_only=True ({how})")


def _count_tensors(obj, torch) -> int:
    if isinstance(obj, torch.Tensor):
        return 1
    if isinstance(obj, dict):
        return sum(_count_tensors(v, torch) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_count_tensors(v, torch) for v in obj)
    return 0


# ---------------------------------------------------------------------------------------------
# megatron

def iteration_dir(d: str) -> str:
    tracker = os.path.join(d, "latest_checkpointed_iteration.txt")
    with open(tracker) as f:
        text = f.read().strip()
    return os.path.join(d, "release" if text == "release" else f"iter_{int(text):07d}")


def rank_dir(d: str, tp: int, pp: int, pp_size: int) -> str:
    name = f"mp_rank_{tp:02d}" + (f"_{pp:03d}" if pp_size > 1 else "")
    return os.path.join(iteration_dir(d), name)


def cmd_megatron(opts) -> int:
    import torch

    register_safe_globals()
    first_dir = rank_dir(opts.dir, 0, 0, 2)
    if not os.path.isdir(first_dir):
        first_dir = rank_dir(opts.dir, 0, 0, 1)
    first = torch.load(os.path.join(first_dir, "model_optim_rng.pt"), weights_only=True, map_location="cpu")
    a = first["args"]
    tp, pp = int(a.tensor_model_parallel_size), int(a.pipeline_model_parallel_size)
    import tempfile

    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="interop-check-") as tmp:
        mp.spawn(_megatron_rank, args=(tp * pp, tp, pp, opts, tmp), nprocs=tp * pp, join=True)
        results = []
        for r in range(tp * pp):
            with open(os.path.join(tmp, f"rank{r}.json")) as f:
                results.append(json.load(f))
    bad = sum(len(r["mismatches"]) for r in results)
    tensors = sum(r["compared"] for r in results)
    for r in results:
        for line in r["mismatches"]:
            print(f"{r['rank_dir']}: {line}")
        for line in r["notes"]:
            print(f"{r['rank_dir']}: note: {line}")
    return verdict(bad == 0, f"megatron {opts.dir} vs {opts.reference}: TP{tp} x PP{pp}, {tensors} tensors "
                             f"compared (model + optimizer), {bad} mismatching")


def _megatron_rank(rank: int, world: int, tp: int, pp: int, opts, tmp: str) -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(opts.port))
    os.environ["CUDA_DEVICE_MAX_CONNECTIONS"] = "1"
    os.environ["TORCHDYNAMO_DISABLE"] = "1"
    import logging

    logging.disable(logging.WARNING)
    if not opts.verbose:
        sys.stdout = open(os.devnull, "w")
    sys.path.insert(0, HERE)
    import megatron_cpu

    megatron_cpu.add_megatron_lm_source(opts.megatron_lm)
    megatron_cpu.install()
    import torch

    register_safe_globals()
    from datetime import timedelta

    # A rank that fails before a collective makes the others time out instead of hanging.
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world,
                                         timeout=timedelta(seconds=opts.timeout))
    from megatron.core import mpu, tensor_parallel

    mpu.initialize_model_parallel(tp, pp, distributed_timeout_minutes=max(1, opts.timeout // 60))
    tp_rank, pp_rank = mpu.get_tensor_model_parallel_rank(), mpu.get_pipeline_model_parallel_rank()
    mine = rank_dir(opts.dir, tp_rank, pp_rank, pp)
    ref = rank_dir(opts.reference, tp_rank, pp_rank, pp)
    out = {"rank_dir": os.path.basename(mine), "mismatches": [], "notes": [], "compared": 0}
    try:
        a = _load_side(mine, tp_rank, pp_rank, out, "DIR", torch, mpu, tensor_parallel)
        b = _load_side(ref, tp_rank, pp_rank, out, "REFDIR", torch, mpu, tensor_parallel)
        _compare(a, b, out)
        _check_expected(opts.reference, os.path.basename(ref), b, out)
    except Exception as e:  # noqa: BLE001 (one line per rank, never a traceback soup)
        import traceback

        out["mismatches"].append(f"{type(e).__name__}: {str(e).splitlines()[0][:400]}")
        out["notes"].append(traceback.format_exc().strip().splitlines()[-3])
    with open(os.path.join(tmp, f"rank{rank}.json"), "w") as f:
        json.dump(out, f)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


_ARGS_SET = False


def _prepare_args(file_args, tp: int, pp: int):
    """Megatron-LM's parsed defaults overlaid with the checkpoint's args (what
    --use-checkpoint-args does), set as Megatron-LM's global args."""
    global _ARGS_SET
    from megatron.training import global_vars
    from megatron.training.arguments import parse_args

    saved = sys.argv
    sys.argv = ["interop_check", "--num-layers", "1", "--hidden-size", "8", "--num-attention-heads", "1",
                "--seq-length", "8", "--max-position-embeddings", "8", "--micro-batch-size", "1"]
    try:
        args = parse_args(ignore_unknown_args=True)
    finally:
        sys.argv = saved
    for k, v in vars(file_args).items():
        setattr(args, k, v)
    args.data_parallel_size_in_file = int(getattr(file_args, "data_parallel_size", 1) or 1)
    # Runtime-only switches (kernels, fusions, initialization), not part of the checkpoint
    # format: forced to what runs on CPU without TransformerEngine/apex.
    from megatron.core.transformer.enums import AttnBackend

    for k in ("apply_rope_fusion", "bias_gelu_fusion", "bias_swiglu_fusion", "masked_softmax_fusion",
              "bias_dropout_fusion", "gradient_accumulation_fusion", "persist_layer_norm",
              "sequence_parallel", "tp_comm_overlap", "overlap_p2p_comm", "align_param_gather"):
        setattr(args, k, False)
    args.transformer_impl = "local"
    args.attention_backend = AttnBackend.unfused
    args.use_cpu_initialization = True
    args.no_persist_layer_norm = True
    args.hidden_dropout = args.attention_dropout = 0.0
    args.rank, args.world_size = 0, tp * pp
    args.data_parallel_size = 1
    if getattr(args, "kv_channels", None) is None:
        args.kv_channels = args.hidden_size // args.num_attention_heads
    if getattr(args, "params_dtype", None) is None:
        import torch

        args.params_dtype = torch.bfloat16 if args.bf16 else (torch.float16 if args.fp16 else torch.float32)
    if not _ARGS_SET:
        global_vars.set_args(args)
        _ARGS_SET = True
    else:
        global_vars._GLOBAL_ARGS = args
    return args


def _load_side(d: str, tp_rank: int, pp_rank: int, out: dict, side: str, torch, mpu, tensor_parallel) -> dict:
    """Load one rank directory through megatron-core; return tensors by name."""
    sd = torch.load(os.path.join(d, "model_optim_rng.pt"), weights_only=True, map_location="cpu")
    args = _prepare_args(sd["args"], mpu.get_tensor_model_parallel_world_size(),
                         mpu.get_pipeline_model_parallel_world_size())
    tensor_parallel.model_parallel_cuda_manual_seed(1234, force_reset_rng=True)
    from gpt_builders import gpt_builder
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig
    from megatron.core.optimizer import get_megatron_optimizer
    from megatron.core.transformer.module import Float16Module
    from megatron.training.arguments import core_transformer_config_from_args
    from megatron.training.training import get_megatron_optimizer_config

    config = core_transformer_config_from_args(args)
    # With a virtual pipeline the rank builds one model chunk per virtual stage, as get_model
    # does: pre_process on chunk 0 of the first stage, post_process on the last chunk of the last
    # stage; the file holds model0, model1, ... and names here carry the "model{c}." prefix.
    vpp = int(getattr(args, "virtual_pipeline_model_parallel_size", None) or 1)
    first, last = mpu.is_pipeline_first_stage(ignore_virtual=True), mpu.is_pipeline_last_stage(ignore_virtual=True)
    chunks = [gpt_builder(args, first and c == 0, last and c == vpp - 1, vp_stage=c if vpp > 1 else None, config=config)
              for c in range(vpp)]
    prefixes = [f"model{c}." if vpp > 1 else "" for c in range(vpp)]
    file_keys = [f"model{c}" if vpp > 1 else "model" for c in range(vpp)]
    for m in chunks:
        for p in m.parameters():
            tensor_parallel.set_defaults_if_not_set_tensor_model_parallel_attributes(p)
    wrapped = [Float16Module(config, m) if args.bf16 or args.fp16 else m for m in chunks]
    keys = [pre + k for pre, fk in zip(prefixes, file_keys) for k in sd.get(fk, {})]
    # Local failures are recorded, never raised: every rank must go on through the collective
    # steps below (DDP, optimizer) or the others would wait for it forever.
    for m, fk in zip(chunks, file_keys):
        if fk not in sd:
            out["mismatches"].append(f"{side}: no {fk} in the file")
            continue
        try:
            result = m.load_state_dict(sd[fk], strict=True)
            if result.missing_keys or result.unexpected_keys:
                out["mismatches"].append(f"{side}: {fk}.load_state_dict: missing {result.missing_keys}, "
                                         f"unexpected {result.unexpected_keys}")
        except RuntimeError as e:
            out["mismatches"].append(f"{side}: {fk}.load_state_dict(strict=True) failed: " + " ".join(str(e).split())[:400])
    got = {"model": {pre + k: v for pre, m in zip(prefixes, chunks) for k, v in m.state_dict().items()
                     if isinstance(v, torch.Tensor)},
           "file_keys": keys, "iteration": sd.get("iteration"),
           "checkpoint_version": sd.get("checkpoint_version"),
           "opt_param_scheduler": sd.get("opt_param_scheduler"), "optimizer": None}
    if "optimizer" not in sd:
        out["notes"].append(f"{side}: no optimizer state")
        return got
    distrib = os.path.join(d, "distrib_optim.pt")
    names = {id(p): pre + n for pre, m in zip(prefixes, chunks) for n, p in m.named_parameters()}
    if bool(getattr(args, "use_distributed_optimizer", False)) != os.path.exists(distrib):
        out["mismatches"].append(
            f"{side}: args.use_distributed_optimizer is {bool(getattr(args, 'use_distributed_optimizer', False))} "
            f"but distrib_optim.pt is {'present' if os.path.exists(distrib) else 'absent'} "
            "(Megatron-LM's load_checkpoint decides by the args)")
    if os.path.exists(distrib):
        import interop_canonical as canon

        world = torch.load(distrib, weights_only=True, map_location="cpu")
        if isinstance(world, list) or not world.get("buckets_coalesced"):
            raise ValueError(f"{distrib}: not the buckets_coalesced layout of megatron-core >= 0.7")
        if len(world) != 1 + vpp:
            raise ValueError(f"{distrib}: {len(world) - 1} grad buffers; the check handles one per model chunk")
        tied = (not args.untie_embeddings_and_output_weights) and args.pipeline_model_parallel_size > 1
        got["optimizer"] = {"master": {}, "exp_avg": {}, "exp_avg_sq": {}}
        for c, (pre, m) in enumerate(zip(prefixes, chunks)):
            shared = {"embedding.word_embeddings.weight"} if c == 0 else set()
            shared |= {"output_layer.weight"} if c == vpp - 1 else set()
            params = [(pre + n, tuple(p.shape), tied and n in shared) for n, p in m.named_parameters() if p.requires_grad]
            (key, entry), = [(k, v) for k, v in world[c].items()]
            bucket = canon.megatron_bucket_size(args, pp_rank) if c == 0 else None
            for st, group in canon.distrib_optim_states(params, entry, bucket, int(args.data_parallel_size_in_file)).items():
                got["optimizer"][st].update(group)
        got["optimizer_source"] = f"distrib_optim.pt {key}"
        return got
    ddp_cfg = DistributedDataParallelConfig(grad_reduce_in_fp32=bool(args.accumulate_allreduce_grads_in_fp32),
                                            use_distributed_optimizer=False)
    ddp = [DistributedDataParallel(config=config, ddp_config=ddp_cfg, module=w, disable_bucketing=c > 0)
           for c, w in enumerate(wrapped)]
    ocfg, overrides = get_megatron_optimizer_config(args)
    ocfg.use_distributed_optimizer = False
    optimizer = get_megatron_optimizer(ocfg, ddp, config_overrides=overrides, use_gloo_process_groups=True)
    try:
        optimizer.load_state_dict(sd["optimizer"])
    except Exception as e:  # noqa: BLE001 (recorded; see above)
        out["mismatches"].append(f"{side}: optimizer.load_state_dict failed: {type(e).__name__}: "
                                 + " ".join(str(e).split())[:400])
        got["optimizer"] = {"master": {}, "exp_avg": {}, "exp_avg_sq": {}}
        got["optimizer_source"] = "optimizer.load_state_dict FAILED"
        return got
    states = {"master": {}, "exp_avg": {}, "exp_avg_sq": {}}
    for opt in getattr(optimizer, "chained_optimizers", None) or [optimizer]:
        for mgroup, fgroup in zip(opt.float16_groups, opt.fp32_from_float16_groups):
            for p, main in zip(mgroup, fgroup):
                st = opt.optimizer.state.get(main, {})
                states["master"][names[id(p)]] = main.detach().clone()
                for s in ("exp_avg", "exp_avg_sq"):
                    if s in st:
                        states[s][names[id(p)]] = st[s].detach().clone()
        for group in opt.fp32_from_fp32_groups:
            for p in group:
                st = opt.optimizer.state.get(p, {})
                for s in ("exp_avg", "exp_avg_sq"):
                    if s in st:
                        states[s][names[id(p)]] = st[s].detach().clone()
    got["optimizer"] = states
    got["optimizer_source"] = "optimizer.load_state_dict (Float16OptimizerWithFloat16Params)"
    return got


def _check_expected(refdir: str, rank_name: str, b: dict, out: dict) -> None:
    """REFDIR's tensors as loaded here against REFDIR/expected.json (what the library held in
    memory when it saved), when there is one: proves the loading path itself."""
    path = os.path.join(refdir, "expected.json")
    if not os.path.exists(path):
        return
    sys.path.insert(0, HERE)
    import interop_hash

    with open(path) as f:
        exp = json.load(f).get("ranks", {}).get(rank_name)
    if exp is None:
        out["mismatches"].append(f"REFDIR expected.json has no rank {rank_name}")
        return
    n = 0
    for name, rec in exp["model"].items():
        t = b["model"].get(name)
        n += 1
        if t is None or interop_hash.record(t) != rec:
            out["mismatches"].append(f"REFDIR model {name}: loaded tensor differs from expected.json")
    for st, group in exp["optimizer"].items():
        for name, rec in group.items():
            n += 1
            t = (b["optimizer"] or {}).get(st, {}).get(name)
            if t is None or interop_hash.record(t) != rec:
                out["mismatches"].append(f"REFDIR {st} {name}: loaded tensor differs from expected.json")
    out["notes"].append(f"REFDIR as loaded matches expected.json ({n} fingerprints checked)"
                        if not any("expected.json" in m for m in out["mismatches"]) else
                        "REFDIR as loaded does NOT match expected.json")


def _compare(a: dict, b: dict, out: dict) -> None:
    for k in ("iteration", "checkpoint_version"):
        if a[k] != b[k]:
            out["mismatches"].append(f"{k}: DIR {a[k]!r} vs REFDIR {b[k]!r}")
    if a["opt_param_scheduler"] != b["opt_param_scheduler"]:
        out["notes"].append(f"opt_param_scheduler differs: DIR {a['opt_param_scheduler']} vs REFDIR {b['opt_param_scheduler']}")
    if [k for k in a["file_keys"]] != [k for k in b["file_keys"]]:
        out["notes"].append("model key order differs from REFDIR's")
    for name in sorted(set(a["model"]) | set(b["model"])):
        out["compared"] += 1
        if name not in a["model"] or name not in b["model"]:
            out["mismatches"].append(f"model {name}: only in {'REFDIR' if name not in a['model'] else 'DIR'}")
        elif not _same_tensor(a["model"][name], b["model"][name]):
            x, y = a["model"][name], b["model"][name]
            out["mismatches"].append(f"model {name}: DIR {x.dtype} {tuple(x.shape)} vs REFDIR {y.dtype} {tuple(y.shape)}: bytes differ")
    if a["optimizer"] is None or b["optimizer"] is None:
        if (a["optimizer"] is None) != (b["optimizer"] is None):
            out["mismatches"].append(f"optimizer state only in {'REFDIR' if a['optimizer'] is None else 'DIR'}")
        return
    out["notes"].append(f"optimizer: DIR via {a['optimizer_source']}, REFDIR via {b['optimizer_source']}")
    for st in ("master", "exp_avg", "exp_avg_sq"):
        sa, sb = a["optimizer"].get(st, {}), b["optimizer"].get(st, {})
        for name in sorted(set(sa) | set(sb)):
            out["compared"] += 1
            if name not in sa or name not in sb:
                out["mismatches"].append(f"{st} {name}: only in {'REFDIR' if name not in sa else 'DIR'}")
            elif not _same_tensor(sa[name], sb[name]):
                out["mismatches"].append(f"{st} {name}: bytes differ (DIR {tuple(sa[name].shape)}, REFDIR {tuple(sb[name].shape)})")


# ---------------------------------------------------------------------------------------------
# semantics: does the canonical mapping mean what Megatron computes?

def cmd_semantics(opts) -> int:
    """Merge the rank files with tools/interop_canonical.py and run the merged weights through
    transformers (GPT2LMHeadModel / LlamaForCausalLM); run the rank files themselves, unmerged,
    through megatron-core at their own TP x PP (gloo, forward-only pipeline schedule, fp32); the
    logits must agree. This checks the canonical mapping against what Megatron computes."""
    import glob
    import tempfile

    import torch
    import torch.multiprocessing as mp

    sys.path.insert(0, HERE)
    import interop_canonical as canon

    register_safe_globals()
    ranks, args = {}, None
    for p in sorted(glob.glob(os.path.join(iteration_dir(opts.dir), "mp_rank_*", "model_optim_rng.pt"))):
        sd = torch.load(p, weights_only=True, map_location="cpu")
        args = sd["args"]
        if "model" not in sd:
            raise SystemExit(f"{p}: model chunks (virtual pipeline), which this check does not run; compare with "
                             "tools/megatron_resume_check.py --reference-fixture ... --canonical instead")
        parts = os.path.basename(os.path.dirname(p)).split("_")
        ranks[(int(parts[2]), int(parts[3]) if len(parts) > 3 else 0)] = {
            k: v.float() for k, v in sd["model"].items() if isinstance(v, torch.Tensor)}
    if opts.vocab:
        vocab = opts.vocab
    elif getattr(args, "vocab_size", None) is None and getattr(opts, "hf_reference", None):
        # A checkpoint written without a tokenizer (e.g. by ckpt from HF) records no vocab_size.
        vocab = int(json.load(open(os.path.join(opts.hf_reference, "config.json")))["vocab_size"])
    else:
        vocab = (int(args.vocab_size) + 1 if getattr(args, "tokenizer_type", "") == "NullTokenizer"
                 else int(args.vocab_size))
    cfg = canon.config_from_megatron(args, vocab)
    tp, pp = int(args.tensor_model_parallel_size), int(args.pipeline_model_parallel_size)
    notes: list[str] = []
    can = canon.megatron(ranks, cfg, tp, pp, notes)
    tokens = (torch.arange(32).reshape(2, 16) * 37 + 5) % vocab
    if opts.hf_reference:
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(opts.hf_reference, dtype=torch.float32).eval()
        with torch.no_grad():
            hf_logits = ref(input_ids=tokens).logits.float()
        notes.append(f"transformers side: {opts.hf_reference} (from_pretrained, float32), not the merge")
    else:
        hf_logits = _hf_logits(can, cfg, vocab, tokens, notes)
    with tempfile.TemporaryDirectory(prefix="interop-sem-") as tmp:
        mp.spawn(_semantics_rank, args=(tp * pp, tp, pp, opts, tokens, tmp), nprocs=tp * pp, join=True)
        shards = [torch.load(os.path.join(tmp, f"logits_tp{t}.pt")) for t in range(tp)]
    meg = torch.cat(shards, -1)[..., :vocab]
    diff = (meg - hf_logits).abs().max().item()
    scale = hf_logits.abs().max().item()
    for n in notes:
        print(f"note: {n}")
    print(f"logits {tuple(hf_logits.shape)}: max |megatron TP{tp}xPP{pp} - transformers| = {diff:.3g} "
          f"(max |logit| {scale:.3g})")
    ok = diff <= opts.tolerance * max(scale, 1.0) and not any("load:" in n for n in notes)
    other = opts.hf_reference or "the interop_canonical merge"
    return verdict(ok, f"semantics {opts.dir}: {cfg['family']} TP{tp} x PP{pp}, megatron-core on the rank "
                       f"files and transformers on {other} agree to {diff:.3g}")


def _hf_logits(can, cfg, vocab, tokens, notes):
    import torch

    import interop_canonical as canon

    if cfg["family"] == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        hf = GPT2LMHeadModel(GPT2Config(n_layer=cfg["layers"], n_embd=cfg["hidden"], n_head=cfg["heads"],
                                        vocab_size=vocab, n_positions=cfg["max_seq"], n_inner=cfg["ffn"],
                                        layer_norm_epsilon=cfg["norm_eps"], activation_function="gelu_new",
                                        attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0))
        sd = canon.canonical_to_hf_gpt2(can, cfg)
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        hf = LlamaForCausalLM(LlamaConfig(hidden_size=cfg["hidden"], num_hidden_layers=cfg["layers"],
                                          num_attention_heads=cfg["heads"], num_key_value_heads=cfg["kv_heads"],
                                          intermediate_size=cfg["ffn"], vocab_size=vocab,
                                          max_position_embeddings=cfg["max_seq"], rms_norm_eps=cfg["norm_eps"],
                                          rope_theta=cfg["rope_theta"], tie_word_embeddings=cfg["tie_embeddings"]))
        sd = canon.canonical_to_hf_llama(can, cfg)
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("attn.bias")]
    if missing or unexpected:
        notes.append(f"transformers load: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        return hf.float().eval()(input_ids=tokens).logits.float()


def _semantics_rank(rank: int, world: int, tp: int, pp: int, opts, tokens, tmp: str) -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(opts.port))
    os.environ["CUDA_DEVICE_MAX_CONNECTIONS"] = "1"
    os.environ["TORCHDYNAMO_DISABLE"] = "1"
    import logging

    logging.disable(logging.WARNING)
    sys.stdout = open(os.devnull, "w")
    sys.path.insert(0, HERE)
    import megatron_cpu

    megatron_cpu.add_megatron_lm_source(opts.megatron_lm)
    megatron_cpu.install()
    import torch

    register_safe_globals()
    from datetime import timedelta

    torch.distributed.init_process_group("gloo", rank=rank, world_size=world,
                                         timeout=timedelta(seconds=opts.timeout))
    from megatron.core import mpu, tensor_parallel
    from megatron.core.pipeline_parallel import get_forward_backward_func

    mpu.initialize_model_parallel(tp, pp, distributed_timeout_minutes=max(1, opts.timeout // 60))
    t, s = mpu.get_tensor_model_parallel_rank(), mpu.get_pipeline_model_parallel_rank()
    sd = torch.load(os.path.join(rank_dir(opts.dir, t, s, pp), "model_optim_rng.pt"), weights_only=True)
    a = _prepare_args(sd["args"], tp, pp)
    a.bf16 = a.fp16 = False
    a.params_dtype = torch.float32
    tensor_parallel.model_parallel_cuda_manual_seed(1234, force_reset_rng=True)
    from gpt_builders import gpt_builder
    from megatron.training.arguments import core_transformer_config_from_args

    config = core_transformer_config_from_args(a)
    model = gpt_builder(a, mpu.is_pipeline_first_stage(), mpu.is_pipeline_last_stage(), config=config)
    model.load_state_dict(sd["model"], strict=True)
    model = model.float().eval()
    b, n = tokens.shape
    pos = torch.arange(n).unsqueeze(0).expand(b, n).contiguous()
    mask = (torch.tril(torch.ones(n, n)) < 0.5).view(1, 1, n, n).expand(b, 1, n, n).contiguous()
    kept = []

    def step(data_iterator, m):
        out = m(tokens, pos, mask)

        def loss(o):
            kept.append(o.detach().clone())
            return o.sum() * 0.0, {}
        return out, loss

    with torch.no_grad():
        get_forward_backward_func()(forward_step_func=step, data_iterator=iter([None]), model=[model],
                                    num_microbatches=1, seq_length=n, micro_batch_size=b, forward_only=True)
    if mpu.is_pipeline_last_stage():
        torch.save(kept[0].float(), os.path.join(tmp, f"logits_tp{t}.pt"))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# canonical (system python3)

def cmd_canonical(opts) -> int:
    sys.path.insert(0, HERE)
    from ckpt_reader import Checkpoint, xxh3_64

    with open(opts.expected) as f:
        expected = json.load(f)["canonical"]
    want: dict[str, dict] = dict(expected.get("model", {}))
    for st, group in expected.get("optimizer", {}).items():
        for name, rec in group.items():
            want[f"optimizer.{st}.{name}"] = rec
    bad, seen = 0, set()
    with Checkpoint(opts.file) as ck:
        have = {t.key: t for t in ck.tensors()}
        for key, rec in sorted(want.items()):
            if opts.model_only and key.startswith("optimizer."):
                continue
            info = have.get(key)
            if info is None:
                print(f"{key}: missing")
                bad += 1
                continue
            seen.add(key)
            digest = f"{xxh3_64(ck.read(key)):016x}"
            problems = []
            if info.dtype != rec["dtype"]:
                problems.append(f"dtype {info.dtype} != {rec['dtype']}")
            if list(info.shape) != list(rec["shape"]):
                problems.append(f"shape {list(info.shape)} != {rec['shape']}")
            if digest != rec["xxh3_64"]:
                problems.append(f"xxh3_64 {digest} != {rec['xxh3_64']}")
            if info.xxh3_64 is not None and f"{info.xxh3_64:016x}" != digest:
                problems.append(f"stored xxh3_64 attribute {info.xxh3_64:016x} != data {digest}")
            if problems:
                print(f"{key}: " + "; ".join(problems))
                bad += 1
        extra = sorted(k for k in have if k not in want)
        for key in extra:
            print(f"{key}: in the file but not in expected.json")
    return verdict(bad == 0 and not extra,
                   f"canonical {opts.file}: {len([k for k in want if not (opts.model_only and k.startswith('optimizer.'))])} "
                   f"expected tensors, {bad} missing or different, {len(extra)} unexpected")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("hf")
    p.add_argument("dir")
    p.add_argument("--reference", required=True)
    p = sub.add_parser("torch-load")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("megatron")
    p.add_argument("dir")
    p.add_argument("--reference", required=True)
    p.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    p.add_argument("--port", type=int, default=29671)
    p.add_argument("--verbose", action="store_true", help="keep Megatron's own output")
    p.add_argument("--timeout", type=int, default=300, help="seconds a rank waits for the others")
    p = sub.add_parser("semantics")
    p.add_argument("dir")
    p.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    p.add_argument("--port", type=int, default=29691)
    p.add_argument("--vocab", type=int, default=0, help="unpadded vocabulary (default: from args)")
    p.add_argument("--timeout", type=int, default=300, help="seconds a rank waits for the others")
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--hf-reference", default="", help="an HF model directory to compare with "
                   "(default: transformers on the merged weights)")
    p = sub.add_parser("canonical")
    p.add_argument("file")
    p.add_argument("--expected", required=True)
    p.add_argument("--model-only", action="store_true", help="skip the optimizer states")
    opts = ap.parse_args(argv)
    return {"hf": cmd_hf, "torch-load": cmd_torch_load, "megatron": cmd_megatron,
            "semantics": cmd_semantics, "canonical": cmd_canonical}[opts.cmd](opts)


if __name__ == "__main__":
    sys.exit(main())
