"""An independent Python implementation of ckpt's canonical tensor mapping (venv python: torch).

Written from formats/tensor-names.md and formats/megatron-layout.md, NOT from ckpt's layout
tables, so that the "canonical" sections of Tests/Fixtures/interop/*/expected.json check ckpt's
interpreter instead of repeating it. Used by tools/make_interop_fixtures.py and
tools/bench_interop_peer.py.

Canonical names: embed.tokens.weight [V, C] (unpadded vocabulary), embed.positions.weight,
layers.{i}.attn_norm.*, layers.{i}.attn.{q,k,v,out}.*, layers.{i}.mlp_norm.*,
layers.{i}.mlp.{gate,up,down}.*, final_norm.*, lm_head.weight (untied only); PyTorch
[out, in] orientation; separate Q, K, V.

Sources handled:
- HF GPT-2 (GPT2LMHeadModel): Conv1D weights are [in, out] (transposed here); c_attn's output
  columns are [Q | K | V]; lm_head is tied to wte (not canonical).
- HF LLaMA (LlamaForCausalLM): nn.Linear [out, in], names map one to one.
- HF GPT-NeoX (GPTNeoXForCausalLM): nn.Linear [out, in]; query_key_value rows are
  [heads, 3, head_dim] (q, k, v per head); the head is embed_out (lm_head in memory).
- megatron-core GPTModel per (TP, PP) rank: linear_qkv rows are [groups, heads/groups + 2, hd]
  per rank (each rank holds whole groups); with fewer groups than TP ranks the full fused
  [groups, heads/groups + 2, hd] rows are cut into TP contiguous pieces; SwiGLU linear_fc1 is [gate_r; up_r] per rank;
  column-parallel = rows split, row-parallel = columns split; vocabulary rows padded to
  padded_vocab and split over TP; layer j of stage s is global layer s * L/PP + j; with tied
  embeddings and PP > 1 the last stage's output_layer.weight is a copy of the embedding.
"""

from __future__ import annotations

from typing import Callable

import torch


# ---------------------------------------------------------------------------------------------
# model_config

def config_from_hf(cfg: dict) -> dict:
    """ckpt model_config of an HF config.json (gpt2 or llama model_type)."""
    mt = cfg["model_type"]
    if mt == "gpt2":
        C = cfg["n_embd"]
        return {
            "family": "gpt2", "layers": cfg["n_layer"], "hidden": C, "heads": cfg["n_head"],
            "kv_heads": cfg["n_head"], "ffn": cfg.get("n_inner") or 4 * C, "vocab": cfg["vocab_size"],
            "max_seq": cfg["n_positions"], "norm_eps": cfg["layer_norm_epsilon"],
            "activation": "gelu_tanh", "tie_embeddings": True, "norm": "layernorm",
            "position": "learned", "rope_theta": 10000.0, "bias": True,
        }
    if mt == "llama":
        return {
            "family": "llama", "layers": cfg["num_hidden_layers"], "hidden": cfg["hidden_size"],
            "heads": cfg["num_attention_heads"], "kv_heads": cfg["num_key_value_heads"],
            "ffn": cfg["intermediate_size"], "vocab": cfg["vocab_size"],
            "max_seq": cfg["max_position_embeddings"], "norm_eps": cfg["rms_norm_eps"],
            "activation": "swiglu", "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
            "norm": "rmsnorm", "position": "rope",
            "rope_theta": float((cfg.get("rope_parameters") or {}).get("rope_theta", cfg.get("rope_theta", 10000.0))),
            "bias": bool(cfg.get("attention_bias", False)),
        }
    if mt == "gpt_neox":
        rope = cfg.get("rope_parameters") or {}
        return {
            "family": "neox", "layers": cfg["num_hidden_layers"], "hidden": cfg["hidden_size"],
            "heads": cfg["num_attention_heads"], "kv_heads": cfg["num_attention_heads"],
            "ffn": cfg["intermediate_size"], "vocab": cfg["vocab_size"],
            "max_seq": cfg["max_position_embeddings"], "norm_eps": cfg["layer_norm_eps"],
            "activation": {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_fast": "gelu_tanh",
                           "gelu_pytorch_tanh": "gelu_tanh"}[cfg["hidden_act"]],
            "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
            "norm": "layernorm", "position": "rope",
            "rope_theta": float(rope.get("rope_theta", cfg.get("rotary_emb_base", 10000.0))),
            "bias": True,
            "residual": "parallel" if cfg.get("use_parallel_residual", True) else "sequential",
            "rotary_pct": float(rope.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25))),
        }
    raise ValueError(f"model_type {mt!r} is not gpt2, llama or gpt_neox")


def config_from_megatron(args, vocab: int) -> dict:
    """ckpt model_config of a Megatron args Namespace; vocab is the unpadded vocabulary."""
    swiglu = bool(args.swiglu)
    rope = args.position_embedding_type == "rope"
    groups = args.num_query_groups if args.group_query_attention else args.num_attention_heads
    return {
        "family": "llama" if swiglu else "gpt2",
        "layers": args.num_layers, "hidden": args.hidden_size, "heads": args.num_attention_heads,
        "kv_heads": groups, "ffn": args.ffn_hidden_size, "vocab": vocab,
        "max_seq": args.max_position_embeddings, "norm_eps": args.layernorm_epsilon,
        # megatron-core's MLP: F.gelu (exact) unless the bias is fused into its tanh-approximated
        # GeLU (bias_gelu_fusion with add_bias_linear); --openai-gelu acts on legacy models only.
        "activation": "swiglu" if swiglu else (
            "gelu_tanh" if getattr(args, "bias_gelu_fusion", False) and getattr(args, "add_bias_linear", True) else "gelu"),
        "tie_embeddings": not args.untie_embeddings_and_output_weights,
        "norm": "rmsnorm" if args.normalization == "RMSNorm" else "layernorm",
        "position": "rope" if rope else "learned", "rope_theta": float(args.rotary_base),
        "bias": bool(args.add_bias_linear),
    }


# ---------------------------------------------------------------------------------------------
# Hugging Face -> canonical

def hf_gpt2(sd: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Canonical tensors of an HF GPT-2 state dict (prefixed or not)."""
    def g(name: str) -> torch.Tensor:
        for key in (f"transformer.{name}", name):
            if key in sd:
                return sd[key]
        raise KeyError(name)

    C = cfg["hidden"]
    out = {"embed.tokens.weight": g("wte.weight"), "embed.positions.weight": g("wpe.weight")}
    for i in range(cfg["layers"]):
        p, h = f"layers.{i}", f"h.{i}"
        out[f"{p}.attn_norm.weight"] = g(f"{h}.ln_1.weight")
        out[f"{p}.attn_norm.bias"] = g(f"{h}.ln_1.bias")
        w = g(f"{h}.attn.c_attn.weight").t()          # [in, 3C] -> [3C, in]
        b = g(f"{h}.attn.c_attn.bias")
        for k, part in enumerate(("q", "k", "v")):
            out[f"{p}.attn.{part}.weight"] = w[k * C:(k + 1) * C]
            out[f"{p}.attn.{part}.bias"] = b[k * C:(k + 1) * C]
        out[f"{p}.attn.out.weight"] = g(f"{h}.attn.c_proj.weight").t()
        out[f"{p}.attn.out.bias"] = g(f"{h}.attn.c_proj.bias")
        out[f"{p}.mlp_norm.weight"] = g(f"{h}.ln_2.weight")
        out[f"{p}.mlp_norm.bias"] = g(f"{h}.ln_2.bias")
        out[f"{p}.mlp.up.weight"] = g(f"{h}.mlp.c_fc.weight").t()
        out[f"{p}.mlp.up.bias"] = g(f"{h}.mlp.c_fc.bias")
        out[f"{p}.mlp.down.weight"] = g(f"{h}.mlp.c_proj.weight").t()
        out[f"{p}.mlp.down.bias"] = g(f"{h}.mlp.c_proj.bias")
    out["final_norm.weight"] = g("ln_f.weight")
    out["final_norm.bias"] = g("ln_f.bias")
    return {k: v.contiguous() for k, v in out.items()}


_LLAMA = [("input_layernorm", "attn_norm"), ("self_attn.q_proj", "attn.q"), ("self_attn.k_proj", "attn.k"),
          ("self_attn.v_proj", "attn.v"), ("self_attn.o_proj", "attn.out"),
          ("post_attention_layernorm", "mlp_norm"), ("mlp.gate_proj", "mlp.gate"),
          ("mlp.up_proj", "mlp.up"), ("mlp.down_proj", "mlp.down")]


def hf_llama(sd: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Canonical tensors of an HF LLaMA state dict."""
    out = {"embed.tokens.weight": sd["model.embed_tokens.weight"]}
    for i in range(cfg["layers"]):
        for hf, can in _LLAMA:
            for suffix in ("weight", "bias"):
                key = f"model.layers.{i}.{hf}.{suffix}"
                if key in sd:
                    out[f"layers.{i}.{can}.{suffix}"] = sd[key]
    out["final_norm.weight"] = sd["model.norm.weight"]
    if not cfg["tie_embeddings"]:
        out["lm_head.weight"] = sd["lm_head.weight"]
    return out


_NEOX_LINEAR = [("attention.dense", "attn.out"), ("mlp.dense_h_to_4h", "mlp.up"), ("mlp.dense_4h_to_h", "mlp.down")]


def hf_neox(sd: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Canonical tensors of an HF GPT-NeoX state dict (transformers 5 in-memory names, head
    lm_head.weight, or the saved embed_out.weight). attention.query_key_value's output rows are
    [heads, 3 (q, k, v), head_dim]: GPTNeoXAttention views the projection as
    (..., heads, 3 * head_dim) and chunks the last axis into q, k, v."""
    H, hd = cfg["heads"], cfg["hidden"] // cfg["heads"]
    out = {"embed.tokens.weight": sd["gpt_neox.embed_in.weight"]}
    for i in range(cfg["layers"]):
        p, h = f"layers.{i}", f"gpt_neox.layers.{i}"
        out[f"{p}.attn_norm.weight"] = sd[f"{h}.input_layernorm.weight"]
        out[f"{p}.attn_norm.bias"] = sd[f"{h}.input_layernorm.bias"]
        for suffix in ("weight", "bias"):
            fused = sd[f"{h}.attention.query_key_value.{suffix}"]
            per_head = fused.reshape(H, 3, hd, *fused.shape[1:])
            for k, part in enumerate(("q", "k", "v")):
                out[f"{p}.attn.{part}.{suffix}"] = per_head[:, k].reshape(H * hd, *fused.shape[1:]).contiguous()
        for hf, can in _NEOX_LINEAR:
            for suffix in ("weight", "bias"):
                out[f"{p}.{can}.{suffix}"] = sd[f"{h}.{hf}.{suffix}"]
        out[f"{p}.mlp_norm.weight"] = sd[f"{h}.post_attention_layernorm.weight"]
        out[f"{p}.mlp_norm.bias"] = sd[f"{h}.post_attention_layernorm.bias"]
    out["final_norm.weight"] = sd["gpt_neox.final_layer_norm.weight"]
    out["final_norm.bias"] = sd["gpt_neox.final_layer_norm.bias"]
    if not cfg["tie_embeddings"]:
        out["lm_head.weight"] = sd["lm_head.weight"] if "lm_head.weight" in sd else sd["embed_out.weight"]
    return out


def canonical_to_hf_llama(can: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Inverse of hf_llama."""
    out = {"model.embed_tokens.weight": can["embed.tokens.weight"]}
    for i in range(cfg["layers"]):
        for hf, c in _LLAMA:
            for suffix in ("weight", "bias"):
                key = f"layers.{i}.{c}.{suffix}"
                if key in can:
                    out[f"model.layers.{i}.{hf}.{suffix}"] = can[key]
    out["model.norm.weight"] = can["final_norm.weight"]
    if not cfg["tie_embeddings"]:
        out["lm_head.weight"] = can["lm_head.weight"]
    return out


# ---------------------------------------------------------------------------------------------
# Megatron per-rank <-> canonical

def _split_qkv(t: torch.Tensor, groups_local: int, per_group_q: int, hd: int):
    """One rank's linear_qkv rows [groups_local, per_group_q + 2, hd, ...] -> (q, k, v)."""
    rest = t.shape[1:]
    v = t.reshape(groups_local, per_group_q + 2, hd, *rest)
    q = v[:, :per_group_q].reshape(groups_local * per_group_q * hd, *rest)
    k = v[:, per_group_q].reshape(groups_local * hd, *rest)
    vv = v[:, per_group_q + 1].reshape(groups_local * hd, *rest)
    return q, k, vv


def megatron(ranks: dict[tuple[int, int], dict[str, torch.Tensor]], cfg: dict, tp: int, pp: int,
             notes: list[str] | None = None, check_replicas: bool = True) -> dict[str, torch.Tensor]:
    """Canonical tensors from per-(tp, pp) megatron-core state dicts (model or one optimizer
    section keyed by parameter name). Replicated tensors are taken from TP rank 0; with
    check_replicas, other ranks' copies must be bitwise equal (differences go to notes)."""
    notes = notes if notes is not None else []
    L, C, H, G = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv_heads"]
    hd = C // H
    per_stage = L // pp
    V = cfg["vocab"]
    swiglu = cfg["activation"] == "swiglu"

    def have(pp_rank: int, name: str) -> bool:
        return name in ranks[(0, pp_rank)]

    def pieces(pp_rank: int, name: str) -> list[torch.Tensor]:
        return [ranks[(t, pp_rank)][name] for t in range(tp)]

    def replicated(pp_rank: int, name: str) -> torch.Tensor:
        ps = pieces(pp_rank, name)
        if check_replicas:
            for t, x in enumerate(ps[1:], 1):
                if not torch.equal(x.view(torch.uint8) if x.dtype == torch.bfloat16 else x,
                                   ps[0].view(torch.uint8) if ps[0].dtype == torch.bfloat16 else ps[0]):
                    notes.append(f"{name} (pp {pp_rank}): TP rank {t} differs from TP rank 0")
        return ps[0]

    out: dict[str, torch.Tensor] = {}
    if have(0, "embedding.word_embeddings.weight"):
        out["embed.tokens.weight"] = torch.cat(pieces(0, "embedding.word_embeddings.weight"), 0)[:V]
    if cfg["position"] == "learned" and have(0, "embedding.position_embeddings.weight"):
        out["embed.positions.weight"] = replicated(0, "embedding.position_embeddings.weight")
    for s in range(pp):
        for j in range(per_stage):
            i = s * per_stage + j
            m, p = f"decoder.layers.{j}", f"layers.{i}"
            for mname, cname in (("input_layernorm", "attn_norm"), ("pre_mlp_layernorm", "mlp_norm")):
                for suf in ("weight", "bias"):
                    if have(s, f"{m}.{mname}.{suf}"):
                        out[f"{p}.{cname}.{suf}"] = replicated(s, f"{m}.{mname}.{suf}")
            for suf in ("weight", "bias"):
                key = f"{m}.self_attention.linear_qkv.{suf}"
                if have(s, key) and G >= tp:
                    parts = [_split_qkv(x, G // tp, H // G, hd) for x in pieces(s, key)]
                    for k, part in enumerate(("q", "k", "v")):
                        out[f"{p}.attn.{part}.{suf}"] = torch.cat([x[k] for x in parts], 0)
                elif have(s, key):
                    # Fewer query groups than TP ranks: linear_qkv is still one ColumnParallelLinear,
                    # its full [G, H/G + 2, hd] rows cut into TP contiguous pieces (a piece may
                    # end inside a group; SelfAttention all-gathers them at run time).
                    full = _split_qkv(torch.cat(pieces(s, key), 0), G, H // G, hd)
                    for k, part in enumerate(("q", "k", "v")):
                        out[f"{p}.attn.{part}.{suf}"] = full[k]
            if have(s, f"{m}.self_attention.linear_proj.weight"):
                out[f"{p}.attn.out.weight"] = torch.cat(pieces(s, f"{m}.self_attention.linear_proj.weight"), 1)
            if have(s, f"{m}.self_attention.linear_proj.bias"):
                out[f"{p}.attn.out.bias"] = replicated(s, f"{m}.self_attention.linear_proj.bias")
            for suf in ("weight", "bias"):
                key = f"{m}.mlp.linear_fc1.{suf}"
                if not have(s, key):
                    continue
                ps = pieces(s, key)
                if swiglu:
                    halves = [torch.chunk(x, 2, 0) for x in ps]
                    out[f"{p}.mlp.gate.{suf}"] = torch.cat([h[0] for h in halves], 0)
                    out[f"{p}.mlp.up.{suf}"] = torch.cat([h[1] for h in halves], 0)
                else:
                    out[f"{p}.mlp.up.{suf}"] = torch.cat(ps, 0)
            if have(s, f"{m}.mlp.linear_fc2.weight"):
                out[f"{p}.mlp.down.weight"] = torch.cat(pieces(s, f"{m}.mlp.linear_fc2.weight"), 1)
            if have(s, f"{m}.mlp.linear_fc2.bias"):
                out[f"{p}.mlp.down.bias"] = replicated(s, f"{m}.mlp.linear_fc2.bias")
    last = pp - 1
    for suf in ("weight", "bias"):
        if have(last, f"decoder.final_layernorm.{suf}"):
            out[f"final_norm.{suf}"] = replicated(last, f"decoder.final_layernorm.{suf}")
    if have(last, "output_layer.weight"):
        head = torch.cat(pieces(last, "output_layer.weight"), 0)[:V]
        if cfg["tie_embeddings"]:
            emb = out.get("embed.tokens.weight")
            if emb is not None and check_replicas and not torch.equal(head.float(), emb.float()):
                notes.append("output_layer.weight (last stage, tied copy) differs from the first stage's embedding")
        else:
            out["lm_head.weight"] = head
    return {k: v.contiguous() for k, v in out.items()}


def virtual_stages(ranks: dict[tuple[int, int], dict[str, torch.Tensor]], pp: int,
                   vpp: int) -> dict[tuple[int, int], dict[str, torch.Tensor]]:
    """Per-(tp, pp) state dicts of a virtual-pipeline run, names prefixed "model{c}." by model
    chunk, as per-(tp, virtual stage) dicts with bare names. megatron-core
    (get_transformer_layer_offset) starts chunk c of stage s at global layer
    c * L/vpp + s * L/(pp*vpp), i.e. it is stage k = c * pp + s of a pipeline of pp * vpp
    stages of L/(pp*vpp) layers each; the embedding is in chunk 0 of stage 0 (k = 0), the final
    norm and output layer in chunk vpp-1 of stage pp-1 (k = pp*vpp - 1)."""
    out: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
    for (t, s), sd in ranks.items():
        for c in range(vpp):
            pre = f"model{c}."
            out[(t, c * pp + s)] = {n[len(pre):]: x for n, x in sd.items() if n.startswith(pre)}
        stray = [n for n in sd if not any(n.startswith(f"model{c}.") for c in range(vpp))]
        if stray:
            raise ValueError(f"rank (tp {t}, pp {s}): {stray[0]} belongs to no model chunk")
    return out


def canonical_to_megatron(can: dict[str, torch.Tensor], cfg: dict, tp: int, pp: int,
                          padded_vocab: int) -> dict[tuple[int, int], dict[str, torch.Tensor]]:
    """Split canonical tensors into per-(tp, pp) megatron-core state dicts (model tensors only;
    vocabulary padded with zero rows; tied embeddings copied to the last stage when PP > 1)."""
    L, C, H, G = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv_heads"]
    hd, per_stage = C // H, L // pp
    swiglu = cfg["activation"] == "swiglu"
    ranks: dict[tuple[int, int], dict[str, torch.Tensor]] = {(t, s): {} for t in range(tp) for s in range(pp)}

    def padded(t: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros((padded_vocab - t.shape[0],) + tuple(t.shape[1:]), dtype=t.dtype)
        return torch.cat([t, pad], 0)

    def put(s: int, name: str, fn: Callable[[int], torch.Tensor]) -> None:
        for t in range(tp):
            ranks[(t, s)][name] = fn(t).contiguous()

    rows = lambda x, t: torch.chunk(x, tp, 0)[t]  # noqa: E731
    cols = lambda x, t: torch.chunk(x, tp, 1)[t]  # noqa: E731

    emb = padded(can["embed.tokens.weight"])
    put(0, "embedding.word_embeddings.weight", lambda t: rows(emb, t))
    if "embed.positions.weight" in can:
        put(0, "embedding.position_embeddings.weight", lambda t: can["embed.positions.weight"])
    for s in range(pp):
        for j in range(per_stage):
            i = s * per_stage + j
            m, p = f"decoder.layers.{j}", f"layers.{i}"
            for suf in ("weight", "bias"):
                if f"{p}.attn_norm.{suf}" in can:
                    put(s, f"{m}.input_layernorm.{suf}", lambda t, k=f"{p}.attn_norm.{suf}": can[k])
                if f"{p}.mlp_norm.{suf}" in can:
                    put(s, f"{m}.pre_mlp_layernorm.{suf}", lambda t, k=f"{p}.mlp_norm.{suf}": can[k])
                if f"{p}.attn.q.{suf}" in can:
                    q, k_, v = (can[f"{p}.attn.{x}.{suf}"] for x in ("q", "k", "v"))
                    rest = tuple(q.shape[1:])
                    fused = torch.cat([q.reshape(G, H // G, hd, *rest), k_.reshape(G, 1, hd, *rest),
                                       v.reshape(G, 1, hd, *rest)], 1).reshape(-1, *rest)
                    put(s, f"{m}.self_attention.linear_qkv.{suf}", lambda t, f=fused: rows(f, t))
                if f"{p}.mlp.up.{suf}" in can:
                    up = can[f"{p}.mlp.up.{suf}"]
                    if swiglu:
                        gate = can[f"{p}.mlp.gate.{suf}"]
                        put(s, f"{m}.mlp.linear_fc1.{suf}",
                            lambda t, g=gate, u=up: torch.cat([rows(g, t), rows(u, t)], 0))
                    else:
                        put(s, f"{m}.mlp.linear_fc1.{suf}", lambda t, u=up: rows(u, t))
            put(s, f"{m}.self_attention.linear_proj.weight", lambda t, w=can[f"{p}.attn.out.weight"]: cols(w, t))
            if f"{p}.attn.out.bias" in can:
                put(s, f"{m}.self_attention.linear_proj.bias", lambda t, b=can[f"{p}.attn.out.bias"]: b)
            put(s, f"{m}.mlp.linear_fc2.weight", lambda t, w=can[f"{p}.mlp.down.weight"]: cols(w, t))
            if f"{p}.mlp.down.bias" in can:
                put(s, f"{m}.mlp.linear_fc2.bias", lambda t, b=can[f"{p}.mlp.down.bias"]: b)
    last = pp - 1
    for suf in ("weight", "bias"):
        if f"final_norm.{suf}" in can:
            put(last, f"decoder.final_layernorm.{suf}", lambda t, k=f"final_norm.{suf}": can[k])
    if not cfg["tie_embeddings"]:
        head = padded(can["lm_head.weight"])
        put(last, "output_layer.weight", lambda t: rows(head, t))
    elif pp > 1:
        put(last, "output_layer.weight", lambda t: rows(emb, t))
    return ranks


# ---------------------------------------------------------------------------------------------
# distrib_optim.pt (buckets_coalesced) -> per-parameter optimizer state

def _pad(x: int, m: int) -> int:
    return -(-x // m) * m


def distrib_optim_layout(params: list[tuple[str, int, bool]], bucket_size: int | None, dp: int,
                         pad_high_busbw: bool = False) -> tuple[dict[str, tuple[int, int, int]], list[tuple[int, int]]]:
    """The grad buffer of one (TP, PP) rank as megatron-core >= 0.8 lays it out for the
    distributed optimizer. params: (name, numel, shared_embedding) in REGISTRATION order.
    Returns ({name: (start, end, bucket)} in buffer elements, [(bucket_start, bucket_end_unpadded)])."""
    import math

    divisor = math.lcm(dp, 128, 1 << 16) if pad_high_busbw else math.lcm(dp, 128)
    index: dict[str, tuple[int, int, int]] = {}
    buckets: list[tuple[int, int]] = []
    pos, bstart, open_names, end = 0, 0, 0, 0

    def close(end_unpadded: int) -> int:
        buckets.append((bstart, end_unpadded))
        return _pad(end_unpadded, divisor)

    for name, numel, shared in reversed(params):
        pos = _pad(pos, 64)
        if shared and open_names:
            pos = close(pos)
            bstart, open_names = pos, 0
        index[name] = (pos, pos + numel, len(buckets))
        open_names += 1
        end = pos + numel
        if (bucket_size is not None and end - bstart >= bucket_size) or shared:
            pos = close(end)
            bstart, open_names = pos, 0
        else:
            pos = end
    if open_names:
        close(end)
    return index, buckets


def distrib_optim_states(params: list[tuple[str, tuple[int, ...], bool]], world: dict,
                         bucket_size: int | None, dp: int) -> dict[str, dict[str, torch.Tensor]]:
    """{state: {name: tensor of the param's TP-local shape}} from one distrib_optim.pt buffer entry
    ({"param", "exp_avg", "exp_avg_sq": fp32 1-D, "numel_unpadded"}); state "param" is returned as
    "master"."""
    numels = []
    for name, shape, shared in params:
        n = 1
        for d in shape:
            n *= d
        numels.append((name, n, shared))
    index, buckets = distrib_optim_layout(numels, bucket_size, dp)
    kept = [e - s for s, e in buckets]
    if sum(kept) != int(world["numel_unpadded"]):
        raise ValueError(f"bucket walk keeps {sum(kept)} elements, file says numel_unpadded "
                         f"{world['numel_unpadded']}")
    before = [sum(kept[:b]) for b in range(len(kept))]
    shapes = {name: shape for name, shape, _ in params}
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, st in (("param", "master"), ("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")):
        if key not in world:
            continue
        flat = world[key]
        out[st] = {}
        for name, (s, e, b) in index.items():
            off = before[b] + s - buckets[b][0]
            out[st][name] = flat[off:off + (e - s)].reshape(shapes[name]).clone()
    return out


def megatron_bucket_size(args, pp_rank: int) -> int | None:
    """The DDP bucket size megatron-training uses for a rank (None = one bucket)."""
    if not getattr(args, "overlap_grad_reduce", False) or pp_rank > 0:
        return None
    if getattr(args, "ddp_bucket_size", None) is not None:
        return int(args.ddp_bucket_size)
    return max(40_000_000, 1_000_000 * int(args.data_parallel_size))


def canonical_to_hf_gpt2(can: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Inverse of hf_gpt2 (prefixed names, Conv1D [in, out], c_attn = [Q | K | V])."""
    out = {"transformer.wte.weight": can["embed.tokens.weight"],
           "transformer.wpe.weight": can["embed.positions.weight"]}
    for i in range(cfg["layers"]):
        p, h = f"layers.{i}", f"transformer.h.{i}"
        out[f"{h}.ln_1.weight"] = can[f"{p}.attn_norm.weight"]
        out[f"{h}.ln_1.bias"] = can[f"{p}.attn_norm.bias"]
        out[f"{h}.attn.c_attn.weight"] = torch.cat([can[f"{p}.attn.{x}.weight"] for x in "qkv"], 0).t().contiguous()
        out[f"{h}.attn.c_attn.bias"] = torch.cat([can[f"{p}.attn.{x}.bias"] for x in "qkv"], 0)
        out[f"{h}.attn.c_proj.weight"] = can[f"{p}.attn.out.weight"].t().contiguous()
        out[f"{h}.attn.c_proj.bias"] = can[f"{p}.attn.out.bias"]
        out[f"{h}.ln_2.weight"] = can[f"{p}.mlp_norm.weight"]
        out[f"{h}.ln_2.bias"] = can[f"{p}.mlp_norm.bias"]
        out[f"{h}.mlp.c_fc.weight"] = can[f"{p}.mlp.up.weight"].t().contiguous()
        out[f"{h}.mlp.c_fc.bias"] = can[f"{p}.mlp.up.bias"]
        out[f"{h}.mlp.c_proj.weight"] = can[f"{p}.mlp.down.weight"].t().contiguous()
        out[f"{h}.mlp.c_proj.bias"] = can[f"{p}.mlp.down.bias"]
    out["transformer.ln_f.weight"] = can["final_norm.weight"]
    out["transformer.ln_f.bias"] = can["final_norm.bias"]
    out["lm_head.weight"] = can["embed.tokens.weight"]
    return out
