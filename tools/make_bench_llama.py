#!/usr/bin/env python3
"""Write a LLaMA-shaped Hugging Face safetensors checkpoint of random bf16 values (venv python).

    /work/venv/bin/python tools/make_bench_llama.py DIR            # the 1.3B benchmark shape
    /work/venv/bin/python tools/make_bench_llama.py DIR --layers 4 --hidden 64 --heads 8 \
        --kv-heads 8 --ffn 176 --vocab 1000                          # a tiny one for tests

Default shape (1.25e9 parameters, ~2.5 GB bf16): hidden 2048, 24 layers, 16 heads, 8 KV heads
(head_dim 128; heads and KV groups divide by TP 8), ffn 5504 (= 8 x 688), vocab 32000 (padded to
32768 by Megatron at TP 8), untied head, max_position_embeddings 2048; layers divide by PP 4.

The layout is what transformers' save_pretrained writes: tensors in LlamaForCausalLM.state_dict()
order, greedy shards of at most --max-shard-size bytes named model-{i:05d}-of-{n:05d}.safetensors
with __metadata__ {"format": "pt"}, model.safetensors.index.json {"metadata": {"total_parameters",
"total_size"}, "weight_map"}, and config.json from transformers' LlamaConfig. Values are
normal(0, 0.02) (norm weights 1 + normal(0, 0.02)), drawn with numpy from --seed and written
shard by shard with the safetensors numpy API, so at most one shard is in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import ml_dtypes
import numpy as np


def tensor_plan(a) -> list[tuple[str, tuple[int, ...]]]:
    hd = a.hidden // a.heads
    kv = a.kv_heads * hd
    out = [("model.embed_tokens.weight", (a.vocab, a.hidden))]
    for i in range(a.layers):
        p = f"model.layers.{i}"
        out += [(f"{p}.self_attn.q_proj.weight", (a.heads * hd, a.hidden)),
                (f"{p}.self_attn.k_proj.weight", (kv, a.hidden)),
                (f"{p}.self_attn.v_proj.weight", (kv, a.hidden)),
                (f"{p}.self_attn.o_proj.weight", (a.hidden, a.heads * hd)),
                (f"{p}.mlp.gate_proj.weight", (a.ffn, a.hidden)),
                (f"{p}.mlp.up_proj.weight", (a.ffn, a.hidden)),
                (f"{p}.mlp.down_proj.weight", (a.hidden, a.ffn)),
                (f"{p}.input_layernorm.weight", (a.hidden,)),
                (f"{p}.post_attention_layernorm.weight", (a.hidden,))]
    out += [("model.norm.weight", (a.hidden,)), ("lm_head.weight", (a.vocab, a.hidden))]
    return out


def parse_size(s: str) -> int:
    s = s.strip().upper()
    for unit, mult in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--ffn", type=int, default=5504)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--max-position", type=int, default=2048)
    ap.add_argument("--max-shard-size", default="1GB")
    ap.add_argument("--seed", type=int, default=20260)
    a = ap.parse_args()
    from safetensors.numpy import save_file
    from transformers import LlamaConfig

    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    plan = tensor_plan(a)
    limit = parse_size(a.max_shard_size)
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in plan:
        nbytes = int(np.prod(shape)) * 2
        if shards[-1] and size + nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += nbytes
    n = len(shards)
    rng = np.random.default_rng(a.seed)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards, 1):
        fname = f"model-{k:05d}-of-{n:05d}.safetensors" if n > 1 else "model.safetensors"
        arrays = {}
        for name, shape in shard:
            x = rng.standard_normal(shape, dtype=np.float32)
            x *= 0.02
            if len(shape) == 1:
                x += 1.0
            arrays[name] = x.astype(ml_dtypes.bfloat16)
            del x
            weight_map[name] = fname
            total += arrays[name].nbytes
        save_file(arrays, os.path.join(a.out, fname), metadata={"format": "pt"})
        del arrays
    if n > 1:
        index = {"metadata": {"total_parameters": total // 2, "total_size": total},
                 "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")
    cfg = LlamaConfig(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                      num_key_value_heads=a.kv_heads, intermediate_size=a.ffn, vocab_size=a.vocab,
                      max_position_embeddings=a.max_position, tie_word_embeddings=False,
                      rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    cfg.dtype = "bfloat16"
    cfg.architectures = ["LlamaForCausalLM"]
    cfg.save_pretrained(a.out)
    print(f"{a.out}: {total // 2} parameters, {total} bytes in {n} shard(s), {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
