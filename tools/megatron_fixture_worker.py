"""One rank of a Megatron-LM training run on CPU (gloo) that writes a legacy `torch` checkpoint.

Launched by tools/make_interop_fixtures.py through torchrun (venv python):

    torchrun --nproc-per-node N tools/megatron_fixture_worker.py --megatron-lm SRC \
        --memory-out DIR -- <Megatron-LM pretrain_gpt.py arguments>

It runs Megatron-LM's real `pretrain()` from pretrain_gpt.py (model provider, optimizer,
scheduler, 1F1B pipeline schedule, train_step, and `save_checkpoint`) with the CPU stand-ins of
tools/megatron_cpu.py. The data are random tokens (numpy, fixed seed). Before the real
`save_checkpoint` runs, the tensors the run HOLDS IN MEMORY are hashed per rank into
DIR/rank{global}.json: model parameters by name, and for each parameter its fp32 master,
exp_avg and exp_avg_sq as the optimizer holds them (the distributed optimizer's DP shards are
gathered over the DP group into whole TP-local tensors), plus iteration, learning rate and
scheduler state. The same tensors, as raw tensors, go to DIR/rank{global}.pt so that the
canonical mapping can be computed from the in-memory state (tools/interop_canonical.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--megatron-lm", required=True)
    ap.add_argument("--memory-out", required=True)
    ap.add_argument("--data-seed", type=int, default=20240610)
    ap.add_argument("--non-homogeneous-layers", action="store_true",
                    help="set megatron-core's TransformerConfig.hetereogenous_dist_checkpoint (no "
                         "command-line flag exists): torch_dist then stores decoder.layers.{i}.* per "
                         "layer instead of one tensor with a leading layer axis")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    opts = ap.parse_args()
    rest = opts.rest[1:] if opts.rest and opts.rest[0] == "--" else opts.rest

    import megatron_cpu

    megatron_cpu.add_megatron_lm_source(opts.megatron_lm)
    megatron_cpu.install()

    import numpy as np
    import torch

    sys.argv = [os.path.join(opts.megatron_lm, "pretrain_gpt.py")] + rest
    import pretrain_gpt  # noqa: E402  (Megatron-LM's own script, imported as a module)
    from megatron.core import mpu
    from megatron.core.enums import ModelType
    from megatron.training import get_args
    import megatron.training.training as mtraining
    from functools import partial

    import interop_hash

    if opts.non_homogeneous_layers:
        use_non_homogeneous_layers()

    # The dataset index helpers are prebuilt in the megatron-core wheel (helpers_cpp), which
    # ships no Makefile; the fused CUDA kernels need nvcc and are switched off by the flags.
    import megatron.core.datasets.utils as dutils
    import megatron.legacy.fused_kernels as fused_kernels

    dutils.compile_helpers = lambda: None
    fused_kernels.load = lambda args: None
    # The JIT warm-up compiles the fused bias-activation kernels (switched off by the flags).
    import megatron.training.initialize as minit

    minit._warmup_jit_function = lambda: None

    class RandomTokens(torch.utils.data.Dataset):
        """GPTDataset-shaped samples of uniformly random token ids (fixed seed)."""

        def __init__(self, n: int, seq: int, vocab: int, seed: int, mask: bool) -> None:
            rng = np.random.default_rng(seed)
            self.text = rng.integers(0, vocab, size=(n, seq + 1), dtype=np.int64)
            self.seq = seq
            self.mask = mask

        def __len__(self) -> int:
            return len(self.text)

        def __getitem__(self, i: int):
            t = torch.from_numpy(self.text[i])
            sample = {
                "tokens": t[:-1].clone(),
                "labels": t[1:].clone(),
                "loss_mask": torch.ones(self.seq, dtype=torch.float32),
                "position_ids": torch.arange(self.seq, dtype=torch.int64),
            }
            if self.mask:  # as GPTDataset: True where attention is masked out (causal)
                causal = torch.tril(torch.ones((self.seq, self.seq))).unsqueeze(0)
                sample["attention_mask"] = causal < 0.5
            return sample

    def datasets_provider(num_samples, vp_stage=None):
        args = get_args()
        vocab = args.vocab_size + 1  # NullTokenizer: vocab_size ids plus the EOD id
        train = RandomTokens(max(num_samples[0], 1), args.seq_length, vocab, opts.data_seed,
                             args.create_attention_mask_in_dataloader)
        return train, None, None

    datasets_provider.is_distributed = True

    real_save = mtraining.save_checkpoint

    def recording_save(iteration, model, optimizer, opt_param_scheduler, *a, **k):
        _record_memory(opts.memory_out, iteration, model, optimizer, opt_param_scheduler,
                       interop_hash, torch, mpu)
        return real_save(iteration, model, optimizer, opt_param_scheduler, *a, **k)

    mtraining.save_checkpoint = recording_save
    real_init = mtraining.initialize_megatron

    def init_cpu(*a, **k):
        k["allow_no_cuda"] = True
        return real_init(*a, **k)

    mtraining.initialize_megatron = init_cpu

    mtraining.pretrain(
        datasets_provider,
        partial(pretrain_gpt.model_provider, pretrain_gpt.gpt_builder),
        ModelType.encoder_or_decoder,
        pretrain_gpt.forward_step,
        args_defaults={"tokenizer_type": "GPT2BPETokenizer"},
        get_embedding_ranks=pretrain_gpt.get_embedding_ranks,
    )
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def use_non_homogeneous_layers() -> None:
    """Make Megatron-LM's gpt_builder set TransformerConfig.hetereogenous_dist_checkpoint
    (megatron-core's switch for per-layer torch_dist keys; it has no command-line flag)."""
    import gpt_builders

    real_config = gpt_builders.core_transformer_config_from_args

    def non_homogeneous_config(*a, **k):
        config = real_config(*a, **k)
        config.hetereogenous_dist_checkpoint = True
        return config

    gpt_builders.core_transformer_config_from_args = non_homogeneous_config


def _unwrap(m):
    while hasattr(m, "module"):
        m = m.module
    return m


def _record_memory(out_dir, iteration, model, optimizer, sched, interop_hash, torch, mpu):
    """Hash (and keep) the model parameters and optimizer states this rank holds."""
    os.makedirs(out_dir, exist_ok=True)
    rank = torch.distributed.get_rank()
    # With a virtual pipeline the rank holds one model chunk per virtual stage, saved as
    # model0, model1, ...: names are prefixed "model{c}." (as ckpt names them), else bare.
    prefixes = [f"model{c}." if len(model) > 1 else "" for c in range(len(model))]
    names, params, extra = {}, {}, {}
    for pre, chunk in zip(prefixes, model):
        net = _unwrap(chunk)
        for n, p in net.named_parameters():
            names[id(p)] = pre + n
            params[pre + n] = p.detach().clone()
        sd = net.state_dict_for_save_checkpoint()
        extra.update({pre + k: type(v).__name__ for k, v in sd.items() if k.endswith("_extra_state")})

    opts = getattr(optimizer, "chained_optimizers", None) or [optimizer]
    master, exp_avg, exp_avg_sq, steps = {}, {}, {}, {}
    distributed = False
    for opt in opts:
        kind = type(opt).__name__
        if kind == "DistributedOptimizer":
            distributed = True
            _gather_distributed(opt, names, master, exp_avg, exp_avg_sq, steps, torch, mpu)
        elif kind == "Float16OptimizerWithFloat16Params":
            for mgroup, fgroup in zip(opt.float16_groups, opt.fp32_from_float16_groups):
                for p, main in zip(mgroup, fgroup):
                    n = names[id(p)]
                    st = opt.optimizer.state.get(main, {})
                    if "exp_avg" not in st:  # no state (loaded with --no-load-optim)
                        continue
                    master[n] = main.detach().clone()
                    exp_avg[n] = st["exp_avg"].detach().clone()
                    exp_avg_sq[n] = st["exp_avg_sq"].detach().clone()
                    steps[n] = float(st["step"])
            for group in opt.fp32_from_fp32_groups:
                for p in group:
                    n = names[id(p)]
                    st = opt.optimizer.state.get(p, {})
                    if "exp_avg" not in st:
                        continue
                    exp_avg[n] = st["exp_avg"].detach().clone()
                    exp_avg_sq[n] = st["exp_avg_sq"].detach().clone()
                    steps[n] = float(st["step"])
        else:
            raise SystemExit(f"unexpected optimizer {kind}")

    # Parameter order of the optimizer state (state index = position in this flattened list).
    order = []
    for opt in opts:
        if type(opt).__name__ == "Float16OptimizerWithFloat16Params":
            main_to_model = {}
            for mgroup, fgroup in zip(opt.float16_groups, opt.fp32_from_float16_groups):
                for p, main in zip(mgroup, fgroup):
                    main_to_model[id(main)] = p
            for g in opt.optimizer.param_groups:
                order.append([names[id(main_to_model.get(id(q), q))] for q in g["params"]])

    # The DDP grad buffers: what drives distrib_optim.pt's bucket walk.
    buffers = []
    for c, ddp in enumerate(model):
        for buf in list(getattr(ddp, "buffers", [])) + list(getattr(ddp, "expert_parallel_buffers", [])):
            buffers.append(({"model_chunk": c} if len(model) > 1 else {}) | {
                "param_dtype": str(buf.param_dtype).removeprefix("torch."),
                "grad_dtype": str(buf.grad_dtype).removeprefix("torch."),
                "numel": int(buf.numel), "numel_unpadded": int(buf.numel_unpadded),
                "bucket_indices": [list(map(int, b)) for b in buf.bucket_indices],
                "buckets": [{"offset": int(b.offset), "numel_unpadded": int(b.numel_unpadded),
                             "params": [names[id(q)] for q in b.params_list]} for b in buf.buckets],
                "param_index_map": {names[id(q)]: list(map(int, v)) for q, v in buf.param_index_map.items()},
            })

    from megatron.training import get_args
    margs = vars(get_args())
    arg_keys = ("num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads",
                "num_query_groups", "group_query_attention", "kv_channels", "padded_vocab_size",
                "vocab_size", "make_vocab_size_divisible_by", "swiglu", "openai_gelu",
                "normalization", "layernorm_epsilon", "position_embedding_type", "rotary_base",
                "untie_embeddings_and_output_weights", "add_bias_linear", "add_qkv_bias",
                "tensor_model_parallel_size", "pipeline_model_parallel_size", "data_parallel_size",
                "world_size", "max_position_embeddings", "seq_length", "micro_batch_size",
                "global_batch_size", "lr", "min_lr", "adam_beta1", "adam_beta2", "adam_eps",
                "weight_decay", "clip_grad", "bf16", "fp16", "params_dtype",
                "use_distributed_optimizer", "overlap_grad_reduce", "ddp_bucket_size",
                "accumulate_allreduce_grads_in_fp32", "ckpt_format", "transformer_impl",
                "train_iters", "seed", "tokenizer_type")
    # Recorded only when set, so the records of runs without a virtual pipeline stay as they were.
    vpp_keys = ("virtual_pipeline_model_parallel_size", "num_layers_per_virtual_pipeline_stage",
                "overlap_p2p_comm")
    args_rec = {k: (v if isinstance(v, (int, float, bool, str, type(None))) else str(v))
                for k, v in margs.items()
                if k in arg_keys or (k in vpp_keys and margs.get("virtual_pipeline_model_parallel_size"))}

    groups = []
    for opt in opts:
        for g in opt.param_groups:
            groups.append({k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, bool, str, type(None), tuple, list))})

    rec = {
        "global_rank": rank,
        "tp_rank": mpu.get_tensor_model_parallel_rank(),
        "pp_rank": mpu.get_pipeline_model_parallel_rank(),
        "dp_rank": mpu.get_data_parallel_rank(),
        "iteration": int(iteration),
        "optimizer_class": [type(o).__name__ for o in opts],
        "distributed_optimizer": distributed,
        "param_groups": groups,
        "opt_param_scheduler": {k: v for k, v in sched.state_dict().items()},
        "adam_step": sorted(set(steps.values())),
        "extra_state_entries": extra,
        "optimizer_param_order": order,
        "grad_buffers": buffers,
        "args": args_rec,
        "model": {n: interop_hash.record(t) for n, t in params.items()},
        "optimizer": {
            "master": {n: interop_hash.record(t) for n, t in master.items()},
            "exp_avg": {n: interop_hash.record(t) for n, t in exp_avg.items()},
            "exp_avg_sq": {n: interop_hash.record(t) for n, t in exp_avg_sq.items()},
        },
    }
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(rec, f, indent=1, sort_keys=True)
    torch.save({"meta": {k: rec[k] for k in ("tp_rank", "pp_rank", "dp_rank", "iteration")},
                "model": params, "master": master, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq},
               os.path.join(out_dir, f"rank{rank}.pt"))


def _gather_distributed(opt, names, master, exp_avg, exp_avg_sq, steps, torch, mpu):
    """Rebuild each parameter's whole (TP-local) optimizer state from the DP shards."""
    pieces = []
    for mgroup, sgroup in zip(opt.model_float16_groups, opt.shard_fp32_from_float16_groups):
        for p, shard in zip(mgroup, sgroup):
            rng = opt._get_model_param_range_map(p)["param"]
            st = opt.optimizer.state[shard]
            pieces.append((names[id(p)], rng.start, rng.end, shard.detach().clone(),
                           st["exp_avg"].detach().clone(), st["exp_avg_sq"].detach().clone(),
                           float(st["step"]), tuple(p.shape)))
    for mgroup, sgroup in zip(opt.model_fp32_groups, opt.shard_fp32_groups):
        for p, shard in zip(mgroup, sgroup):
            rng = opt._get_model_param_range_map(p)["param"]
            st = opt.optimizer.state[shard]
            pieces.append((names[id(p)], rng.start, rng.end, shard.detach().clone(),
                           st["exp_avg"].detach().clone(), st["exp_avg_sq"].detach().clone(),
                           float(st["step"]), tuple(p.shape)))
    group = mpu.get_data_parallel_group(with_context_parallel=True)
    world = torch.distributed.get_world_size(group)
    gathered = [None] * world
    torch.distributed.all_gather_object(gathered, pieces, group=group)
    shapes, cover = {}, {}
    for rank_pieces in gathered:
        for n, s, e, m, a, q, step, shape in rank_pieces:
            shapes[n] = shape
            numel = 1
            for d in shape:
                numel *= d
            for store in (master, exp_avg, exp_avg_sq):
                store.setdefault(n, torch.full((numel,), float("nan"), dtype=torch.float32))
            master[n][s:e] = m
            exp_avg[n][s:e] = a
            exp_avg_sq[n][s:e] = q
            cover[n] = cover.get(n, 0) + (e - s)
            steps[n] = step
    for n, shape in shapes.items():
        if cover[n] != master[n].numel():
            raise SystemExit(f"{n}: DP shards cover {cover[n]} of {master[n].numel()} elements")
        for store in (master, exp_avg, exp_avg_sq):
            store[n] = store[n].reshape(shape)


if __name__ == "__main__":
    main()
