#!/usr/bin/env python3
"""Make the interop fixtures with the real libraries (venv python; not run in CI).

    /work/venv/bin/python tools/make_interop_fixtures.py [--out Tests/Fixtures/interop]
        [--megatron-lm /tmp/mlm] [--only hf-gpt2,megatron-llama-tp2pp2,...]

Writes, under --out (see Tests/Fixtures/interop/README.md):
  hf-gpt2/, hf-gpt2-sharded/          transformers GPT2LMHeadModel save_pretrained (fp32)
  hf-llama/, hf-llama-sharded/        transformers LlamaForCausalLM save_pretrained (bf16, GQA)
  hf-neox/                            transformers GPTNeoXForCausalLM save_pretrained (fp16,
                                      rotary_pct 0.25, parallel residual, untied embed_out)
  pytorch-gpt2/                       torch.save(model.state_dict()) of the GPT-2 + config.json
  megatron-llama-tp2pp2/              Megatron-LM pretrain + save_checkpoint, legacy torch format,
                                      TP2 x PP2, Float16OptimizerWithFloat16Params (Adam)
  megatron-gpt2-tp2pp2-dp2/           the same with GPT-2 shape, TP2 x PP2 x DP2 and the
                                      distributed optimizer (distrib_optim.pt)
  megatron-llama-tp2pp2-vpp2/         LLaMA shape, TP2 x PP2 with a virtual pipeline of 2 chunks
                                      per stage (model0, model1), non-distributed optimizer
  megatron-gpt2-tp1pp2-vpp2-dp2/      GPT-2 shape, TP1 x PP2 x VPP2 x DP2, distributed optimizer
  megatron-dist-gpt2-tp2pp2/          --ckpt-format torch_dist (megatron.core.dist_checkpointing),
                                      GPT-2 shape, TP2 x PP2 x DP2, distributed optimizer,
                                      dp_reshardable (per-bucket flat tensors)
  megatron-dist-llama-tp2pp2/         the same with the LLaMA shape (GQA, SwiGLU, RMSNorm, untied)
  megatron-dist-llama-tp2pp2-fr/      LLaMA, TP2 x PP2, distributed optimizer, fully_reshardable
                                      (--dist-ckpt-optim-fully-reshardable)
  megatron-dist-gpt2-tp2pp2-layers/   GPT-2, TP2 x PP2, non-distributed optimizer, non-homogeneous
                                      layer keys (decoder.layers.{i}.*, no stacked layer axis)
  megatron-llama-tp4-g2/              LLaMA with more TP ranks than query groups (8 heads, 2 groups,
                                      TP 4, PP 1), legacy torch format
  megatron-dist-llama-tp4-g2/         the same in torch_dist, distributed optimizer
and in each an expected.json with the fingerprints of the tensors the library held in memory
and the canonical tensors computed by tools/interop_canonical.py.

Seeds are fixed and every output directory is rebuilt from scratch: running it again gives
byte-identical files (checked with torch 2.13.0+cpu, transformers 5.24.0, megatron-core 0.16.1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import interop_canonical as canon  # noqa: E402
import interop_hash  # noqa: E402

ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")
VOCAB = 101


def versions() -> dict:
    """Library versions used to make the fixtures."""
    import megatron.core
    import numpy
    import safetensors
    import transformers

    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "safetensors": safetensors.__version__,
            "megatron-core": megatron.core.__version__, "numpy": numpy.__version__,
            "megatron-lm-source": "NVIDIA/Megatron-LM tag core_v0.16.1 (megatron/training, pretrain_gpt.py)"}


def fresh(path: str) -> str:
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def write_json(path: str, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def records(sd: dict) -> dict:
    return {k: interop_hash.record(v) for k, v in sd.items()}


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Add seeded noise to every parameter so no tensor is all ones or all zeros (HF inits
    norms to 1 and biases to 0, which would hide a wrong split)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype) * 0.05)


# ---------------------------------------------------------------------------------------------
# Hugging Face

def gpt2_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1001)
    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=VOCAB, n_positions=64,
                     bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
    m = GPT2LMHeadModel(cfg)
    perturb(m, 1002)
    return m.eval()


def llama_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(2001)
    cfg = LlamaConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=48, num_hidden_layers=2, vocab_size=VOCAB,
                      max_position_embeddings=64, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2)
    m = LlamaForCausalLM(cfg)
    perturb(m, 2002)
    return m.to(torch.bfloat16).eval()


def neox_model():
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(3001)
    cfg = GPTNeoXConfig(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                        vocab_size=VOCAB, max_position_embeddings=64, rotary_pct=0.25, rotary_emb_base=25000,
                        use_parallel_residual=True, hidden_act="gelu", layer_norm_eps=1e-5,
                        tie_word_embeddings=False, attention_bias=True, bos_token_id=1, eos_token_id=2)
    m = GPTNeoXForCausalLM(cfg)
    perturb(m, 3002)
    return m.to(torch.float16).eval()


def hf_expected(name: str, model, how: str, notes: list[str], saved_names: dict[str, str] | None = None) -> dict:
    """`saved_names` renames in-memory state_dict keys to the names save_pretrained writes."""
    sd = model.state_dict()
    cfg = canon.config_from_hf(model.config.to_dict())
    can = {"gpt2": canon.hf_gpt2, "llama": canon.hf_llama, "neox": canon.hf_neox}[cfg["family"]](sd, cfg)
    sd = {(saved_names or {}).get(k, k): v for k, v in sd.items()}
    return {"fixture": name, "made_by": how, "versions": versions(),
            "source": type(model).__name__ + " (transformers), model.state_dict() after init",
            "model_config": cfg, "tensors": records(sd),
            "canonical": {"model": records(can), "optimizer": {}}, "notes": notes}


def make_hf(out: str, only: set[str]) -> None:
    gpt2 = gpt2_model()
    tied = ["lm_head.weight is tied to transformer.wte.weight (one tensor in memory); "
            "save_pretrained stores only transformer.wte.weight"]
    if "hf-gpt2" in only:
        d = fresh(os.path.join(out, "hf-gpt2"))
        gpt2.save_pretrained(d)
        write_json(os.path.join(d, "expected.json"),
                   hf_expected("hf-gpt2", gpt2, "GPT2LMHeadModel.save_pretrained(dir)", tied))
    if "hf-gpt2-sharded" in only:
        d = fresh(os.path.join(out, "hf-gpt2-sharded"))
        gpt2.save_pretrained(d, max_shard_size="40KB")
        write_json(os.path.join(d, "expected.json"),
                   hf_expected("hf-gpt2-sharded", gpt2,
                               "GPT2LMHeadModel.save_pretrained(dir, max_shard_size='40KB')", tied))
    if "pytorch-gpt2" in only:
        d = fresh(os.path.join(out, "pytorch-gpt2"))
        torch.save(gpt2.state_dict(), os.path.join(d, "pytorch_model.bin"))
        gpt2.config.save_pretrained(d)
        write_json(os.path.join(d, "expected.json"), hf_expected(
            "pytorch-gpt2", gpt2,
            "torch.save(model.state_dict(), 'pytorch_model.bin') + model.config.save_pretrained(dir) "
            "(transformers 5 has no safe_serialization=False)",
            ["pytorch_model.bin holds lm_head.weight AND transformer.wte.weight as two tensors "
             "sharing one storage (same storage key in the pickle)"]))
    llama = llama_model()
    if "hf-llama" in only:
        d = fresh(os.path.join(out, "hf-llama"))
        llama.save_pretrained(d)
        write_json(os.path.join(d, "expected.json"),
                   hf_expected("hf-llama", llama, "LlamaForCausalLM (bfloat16).save_pretrained(dir)", []))
    if "hf-llama-sharded" in only:
        d = fresh(os.path.join(out, "hf-llama-sharded"))
        llama.save_pretrained(d, max_shard_size="12KB")
        write_json(os.path.join(d, "expected.json"), hf_expected(
            "hf-llama-sharded", llama,
            "LlamaForCausalLM (bfloat16).save_pretrained(dir, max_shard_size='12KB')", []))
    if "hf-neox" in only:
        neox = neox_model()
        d = fresh(os.path.join(out, "hf-neox"))
        neox.save_pretrained(d)
        write_json(os.path.join(d, "expected.json"), hf_expected(
            "hf-neox", neox, "GPTNeoXForCausalLM (float16).save_pretrained(dir)",
            ["transformers 5 holds the head as lm_head.weight; save_pretrained writes it as embed_out.weight "
             "(conversion_mapping.py reverts its embed_out -> lm_head rename), the hub checkpoints' name; "
             "'tensors' lists the saved names"],
            saved_names={"lm_head.weight": "embed_out.weight"}))


# ---------------------------------------------------------------------------------------------
# Megatron

COMMON = """
--seq-length 16 --max-position-embeddings 64 --micro-batch-size 1 --global-batch-size 4
--tokenizer-type NullTokenizer --vocab-size 100 --make-vocab-size-divisible-by 8
--tensor-model-parallel-size 2 --pipeline-model-parallel-size 2
--bf16 --lr 1e-3 --min-lr 1e-4 --lr-decay-style cosine --lr-warmup-iters 1 --lr-decay-iters 10
--train-iters 2 --adam-beta1 0.9 --adam-beta2 0.95 --adam-eps 1e-8 --weight-decay 0.1 --clip-grad 1.0
--attention-dropout 0 --hidden-dropout 0 --init-method-std 0.02
--transformer-impl local --attention-backend unfused --use-cpu-initialization
--no-masked-softmax-fusion --no-bias-gelu-fusion --no-bias-swiglu-fusion --no-rope-fusion
--no-gradient-accumulation-fusion --no-bias-dropout-fusion --no-persist-layer-norm
--distributed-backend gloo --ckpt-format {fmt} --save-interval 2
--eval-iters 0 --eval-interval 1000 --log-interval 1 --num-workers 0 --legacy-tokenizer
"""

MEGATRON = {
    "megatron-llama-tp2pp2": {
        "nproc": 4, "data_seed": 31,
        "args": """--num-layers 4 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 4
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--seed 1234""",
    },
    "megatron-gpt2-tp2pp2-dp2": {
        "nproc": 8, "data_seed": 32,
        "args": """--num-layers 4 --hidden-size 32 --num-attention-heads 4
--normalization LayerNorm --position-embedding-type learned_absolute --openai-gelu
--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 4000
--accumulate-allreduce-grads-in-fp32 --seed 4321""",
    },
    # Virtual pipeline: 4 layers over PP2 x VPP2, one layer per model chunk (model0, model1 per
    # rank). Megatron-LM allows the interleaved schedule at PP2 only with P2P overlap (its default).
    "megatron-llama-tp2pp2-vpp2": {
        "nproc": 4, "data_seed": 33,
        "args": """--num-layers 4 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 4
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--num-layers-per-virtual-pipeline-stage 1
--seed 5678""",
    },
    "megatron-gpt2-tp1pp2-vpp2-dp2": {
        "nproc": 4, "data_seed": 34, "tp": 1,
        "args": """--num-layers 4 --hidden-size 32 --num-attention-heads 4
--normalization LayerNorm --position-embedding-type learned_absolute --openai-gelu
--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 4000
--accumulate-allreduce-grads-in-fp32
--num-layers-per-virtual-pipeline-stage 1
--seed 8765""",
    },
    "megatron-dist-gpt2-tp2pp2": {
        "nproc": 8, "data_seed": 41, "format": "torch_dist",
        "args": """--num-layers 2 --hidden-size 32 --num-attention-heads 4
--normalization LayerNorm --position-embedding-type learned_absolute
--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 4000
--accumulate-allreduce-grads-in-fp32 --seed 5321""",
    },
    "megatron-dist-llama-tp2pp2": {
        "nproc": 8, "data_seed": 42, "format": "torch_dist",
        "args": """--num-layers 4 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 4
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--use-distributed-optimizer --overlap-grad-reduce --ddp-bucket-size 2000
--accumulate-allreduce-grads-in-fp32 --seed 5234""",
    },
    "megatron-dist-gpt2-tp2pp2-layers": {
        "nproc": 4, "data_seed": 44, "format": "torch_dist", "worker_args": ["--non-homogeneous-layers"],
        "args": """--num-layers 4 --hidden-size 32 --num-attention-heads 4
--normalization LayerNorm --position-embedding-type learned_absolute --seed 5432""",
    },
    # More TP ranks than query groups: 8 heads in 2 groups over TP 4 (megatron-core cuts the
    # fused linear_qkv rows into 4 contiguous pieces: a rank holds parts of a group).
    "megatron-llama-tp4-g2": {
        "nproc": 4, "data_seed": 35, "tp": 4, "pp": 1,
        "args": """--num-layers 2 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 8
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--seed 3456""",
    },
    "megatron-dist-llama-tp4-g2": {
        "nproc": 4, "data_seed": 45, "tp": 4, "pp": 1, "format": "torch_dist",
        "args": """--num-layers 2 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 8
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--use-distributed-optimizer --accumulate-allreduce-grads-in-fp32 --seed 6456""",
    },
    "megatron-dist-llama-tp2pp2-fr": {
        "nproc": 4, "data_seed": 43, "format": "torch_dist",
        "args": """--num-layers 4 --hidden-size 32 --ffn-hidden-size 48 --num-attention-heads 4
--group-query-attention --num-query-groups 2 --swiglu --normalization RMSNorm
--position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear
--use-distributed-optimizer --dist-ckpt-optim-fully-reshardable
--accumulate-allreduce-grads-in-fp32 --seed 5235""",
    },
}


def make_megatron(out: str, name: str, src: str, port: int) -> None:
    spec = MEGATRON[name]
    d = fresh(os.path.join(out, name))
    # Relative --save with cwd=out, so args.save in the files is the fixture's name, not a path.
    common = COMMON.format(fmt=spec.get("format", "torch")).split()
    if "tp" in spec:  # the common arguments say TP 2
        common[common.index("--tensor-model-parallel-size") + 1] = str(spec["tp"])
    if "pp" in spec:  # and PP 2
        common[common.index("--pipeline-model-parallel-size") + 1] = str(spec["pp"])
    argv = spec["args"].split() + common + ["--save", name]
    with tempfile.TemporaryDirectory(prefix=f"{name}-mem-") as mem:
        env = dict(os.environ, CUDA_DEVICE_MAX_CONNECTIONS="1", TORCHDYNAMO_DISABLE="1",
                   PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
        torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
        cmd = [torchrun, "--nproc-per-node", str(spec["nproc"]), "--master-port", str(port),
               os.path.join(HERE, "megatron_fixture_worker.py"), "--megatron-lm", src,
               "--memory-out", mem, "--data-seed", str(spec["data_seed"]),
               *spec.get("worker_args", []), "--"] + argv
        log = os.path.join(mem, "log.txt")
        with open(log, "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=out).returncode
        if rc != 0:
            tail = open(log).read()[-6000:]
            raise SystemExit(f"{name}: torchrun failed ({rc}):\n{tail}")
        losses = [line.split("lm loss:")[1].split("|")[0].strip()
                  for line in open(log) if "lm loss:" in line]
        write_json(os.path.join(d, "expected.json"), megatron_expected(name, mem, spec, argv, losses, d))


def dist_common(d: str) -> dict:
    """The common dict (common.pt) of the torch_dist checkpoint under d."""
    from megatron.core.safe_globals import register_safe_globals

    register_safe_globals()
    with open(os.path.join(d, "latest_checkpointed_iteration.txt")) as f:
        it = f.read().strip()
    return torch.load(os.path.join(d, f"iter_{int(it):07d}", "common.pt"), weights_only=True)


def megatron_expected(name: str, mem: str, spec: dict, argv: list[str], losses: list[str], d: str) -> dict:
    recs = []
    for fn in sorted(os.listdir(mem)):
        if fn.startswith("rank") and fn.endswith(".json"):
            with open(os.path.join(mem, fn)) as f:
                recs.append(json.load(f))
    a = recs[0]["args"]
    tp, pp = a["tensor_model_parallel_size"], a["pipeline_model_parallel_size"]
    vpp = a.get("virtual_pipeline_model_parallel_size") or 1
    notes: list[str] = []
    by_pos: dict[tuple[int, int], dict] = {}
    tensors: dict[tuple[int, int], dict] = {}
    for r in sorted(recs, key=lambda r: r["global_rank"]):
        key = (r["tp_rank"], r["pp_rank"])
        if r["dp_rank"] == 0:
            by_pos[key] = r
            tensors[key] = torch.load(os.path.join(mem, f"rank{r['global_rank']}.pt"), weights_only=True)
        else:
            ref = by_pos[key]
            for section in ("model",):
                if r[section] != ref[section]:
                    notes.append(f"DP rank {r['dp_rank']} of (tp {key[0]}, pp {key[1]}) holds different model tensors")
            for st in ("master", "exp_avg", "exp_avg_sq"):
                if r["optimizer"][st] != ref["optimizer"][st]:
                    notes.append(f"DP rank {r['dp_rank']} of (tp {key[0]}, pp {key[1]}): gathered {st} differs")

    class NS:
        pass

    ns = NS()
    ns.__dict__.update(a)
    cfg = canon.config_from_megatron(ns, VOCAB)
    def merged(section: str) -> dict:
        per_rank = {k: v[section] for k, v in tensors.items()}
        if vpp == 1:
            return canon.megatron(per_rank, cfg, tp, pp, notes)
        return canon.megatron(canon.virtual_stages(per_rank, pp, vpp), cfg, tp, pp * vpp, notes)

    model = merged("model")
    opt = {st: merged(st) for st in ("master", "exp_avg", "exp_avg_sq")}
    dist = spec.get("format", "torch") == "torch_dist"
    ranks = {}
    for (t, p), r in sorted(by_pos.items()):
        # torch_dist has no rank directories: its ranks are named as ckpt's rank column.
        dirname = f"tp{t}pp{p}" if dist else f"mp_rank_{t:02d}" + (f"_{p:03d}" if pp > 1 else "")
        ranks[dirname] = {k: r[k] for k in ("tp_rank", "pp_rank", "model", "optimizer",
                                             "optimizer_param_order", "grad_buffers",
                                             "extra_state_entries", "adam_step")}
    r0 = by_pos[(0, 0)]
    extra = {}
    if dist:
        common = dist_common(d)
        extra = {"ckpt_format": "torch_dist", "content_metadata": common.get("content_metadata"),
                 "non_homogeneous_layers": "--non-homogeneous-layers" in spec.get("worker_args", [])}
    return {**extra,
        "fixture": name,
        "made_by": "torchrun --nproc-per-node %d tools/megatron_fixture_worker.py %s(Megatron-LM "
                   "pretrain() of pretrain_gpt.py with its real save_checkpoint)"
                   % (spec["nproc"], "".join(a + " " for a in spec.get("worker_args", []))),
        "versions": versions(),
        "megatron_argv": argv,
        "iteration": r0["iteration"],
        "train_losses": losses,
        "optimizer_class": r0["optimizer_class"],
        "distributed_optimizer": r0["distributed_optimizer"],
        "param_groups": r0["param_groups"],
        "opt_param_scheduler": r0["opt_param_scheduler"],
        "args": a,
        "vocab": VOCAB,
        "vocab_note": "NullTokenizer --vocab-size 100 has 101 ids (100 + EOD): the unpadded vocabulary "
                      f"is 101 while args.vocab_size is 100; padded_vocab_size = ceil(101 / (8 * TP)) * {8 * tp} = {a['padded_vocab_size']}",
        "model_config": cfg,
        "ranks": ranks,
        "canonical": {"model": records(model),
                      "optimizer": {st: records(t) for st, t in opt.items()}},
        "notes": notes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--megatron-lm", default=os.environ.get("MEGATRON_LM_SRC", "/tmp/mlm"))
    ap.add_argument("--only", default="")
    ap.add_argument("--port", type=int, default=29631)
    opts = ap.parse_args()
    every = ["hf-gpt2", "hf-gpt2-sharded", "pytorch-gpt2", "hf-llama", "hf-llama-sharded", "hf-neox",
             *MEGATRON]
    only = set(opts.only.split(",")) if opts.only else set(every)
    unknown = only - set(every)
    if unknown:
        raise SystemExit(f"unknown fixtures: {sorted(unknown)}")
    os.makedirs(opts.out, exist_ok=True)
    make_hf(opts.out, only)
    for i, name in enumerate(MEGATRON):
        if name in only:
            make_megatron(opts.out, name, opts.megatron_lm, opts.port + i)
    for name in every:
        if name in only:
            d = os.path.join(opts.out, name)
            size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
            print(f"{name}: {size} bytes")


if __name__ == "__main__":
    main()
