#!/usr/bin/env python3
"""Make the PyTorch/transformers agreement fixtures of ReferenceCore for the LLaMA and GPT-NeoX
families (Tests/ReferenceCoreTests/Fixtures/{llama,neox}-{fp32,bf16}/).

The conventions are those of tools/ref_make_fixture.py (the GPT-2 fixtures), with the model
computed by the real `transformers` classes instead of a hand-written forward:

  llama: LlamaForCausalLM, 2 layers, hidden 64, 4 heads, 2 KV heads (GQA), ffn 160, vocab 96,
         max_seq 32, RMSNorm eps 1e-5, rope_theta 10000, no biases, untied lm_head.
  neox:  GPTNeoXForCausalLM, 2 layers, hidden 64, 4 heads, ffn 256, vocab 96, max_seq 32,
         rotary_pct 0.25, parallel residual, exact-erf gelu, LayerNorm eps 1e-5, biases
         (attention_bias true), untied embed_out.

Parameters are initialised in ckpt's canonical names (norm weights 1 + 0.05 N(0,1), every other
tensor, biases included, 0.02 N(0,1), so every bias gradient is exercised), loaded into the
transformers model through the canonical <-> HF mapping, trained for WARMUP_STEPS warm-up steps
(so Adam state is non-trivial), then one more step is taken on the fixture batch (B=2, T=16,
two targets ignored, targets already shifted: loss = mean cross-entropy of model(inputs).logits
against targets, ignore_index -1):

  <family>-fp32/  before.h5 (step 3), batch.h5, after.h5 (step 4, loss and grad_norm in
                  user_metadata), grads.h5 (the model's gradients of the fixture step, before
                  clipping, under /model)
                  - fp32 forward/backward, torch.optim.AdamW (variant "torch"), decay "matrices",
                    clipping active.
  <family>-bf16/  before.h5, batch.h5, after.h5, grads.h5
                  - bf16 parameters with fp32 masters; forward/backward under
                    torch.autocast(bfloat16) with the parameters set to the masters rounded to
                    bfloat16; AdamW variant "decoupled" on the masters (written out here), decay
                    "all", clipping active. grads.h5 holds the autocast gradients;
                  grads_fp32.h5 the float32 (no autocast) loss and gradients of exactly the bf16
                    parameters before.h5 stores (--exact-only rewrites just these).

Canonical names from HF (formats/tensor-names.md):
  llama: model.embed_tokens -> embed.tokens, self_attn.{q,k,v,o}_proj -> attn.{q,k,v,out},
         mlp.{gate,up,down}_proj -> mlp.{gate,up,down}, input_layernorm -> attn_norm,
         post_attention_layernorm -> mlp_norm, model.norm -> final_norm, lm_head -> lm_head.
  neox:  gpt_neox.embed_in -> embed.tokens, input_layernorm -> attn_norm,
         post_attention_layernorm -> mlp_norm, attention.query_key_value (rows fused per head,
         [heads, 3 (q, k, v), head_dim]) -> attn.{q,k,v}, attention.dense -> attn.out,
         mlp.dense_h_to_4h -> mlp.up, mlp.dense_4h_to_h -> mlp.down, final_layer_norm ->
         final_norm, embed_out (transformers 5 calls the module lm_head) -> lm_head.

Self-checks (the script fails rather than write a wrong fixture):
  - an independent functional forward over the canonical tensors (rotate-half rotary on the
    first rotary_pct of each head, GQA, SwiGLU / exact gelu, sequential / parallel residual)
    gives transformers' logits (float64, relative error < 1e-5; RMSNorm computes in float32);
  - the canonical model written to before.h5 and after.h5, read back and reassembled into a
    fresh transformers model, gives exactly the logits of the model that was trained.

Variant (fp32 only, --variant llama3): llama3-fp32/ is the llama model with Llama 3.1-style RoPE
scaling (model_config.rope_scaling llama3, factor 8, low 0.5, high 2, original_max_seq 16; HF
rope_parameters rope_type "llama3"), plus inv_freq.json, transformers' float32 inverse
frequencies as bit patterns.

Everything is written in checkpoint format v1 (contiguous datasets, codec "none", dtype and
xxh3_64 attributes, root attributes). Needs torch and transformers (not used in CI):
  /work/venv/bin/python tools/ref_make_family_fixtures.py --out Tests/ReferenceCoreTests/Fixtures
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt_reader  # noqa: E402
import ref_h5  # noqa: E402
from ref_make_fixture import clip_coefficient, decays, global_norm, make_batch, np_dict, write_checkpoint  # noqa: E402  (the GPT-2 fixtures' conventions)

WARMUP_STEPS = 3
FAMILIES = ("llama", "neox")
# Variants of a family, fp32 only: llama3 is the llama model with Llama 3.1-style RoPE scaling
# (factor 8, low 0.5, high 2, original_max_seq 16 < max_seq 32: of the 8 rotary frequencies of a 16-dim head one
# is kept, one interpolated and six divided by 8 — every branch of the formula).
VARIANTS = ("llama3",)
LLAMA3_SCALING = dict(type="llama3", factor=8.0, low_freq_factor=0.5, high_freq_factor=2.0, original_max_seq=16)


# ----------------------------------------------------------------------------------------------
# Configurations


def model_config(family: str) -> dict:
    """The canonical model_config (every key of ModelConfig, as formats/presets.json spells it)."""
    if family == "llama3":
        return {**model_config("llama"), "rope_scaling": dict(LLAMA3_SCALING)}
    if family == "llama":
        return dict(family="llama", layers=2, hidden=64, heads=4, kv_heads=2, ffn=160, vocab=96, max_seq=32,
                    norm_eps=1e-5, activation="swiglu", tie_embeddings=False, norm="rmsnorm", position="rope",
                    rope_theta=10000.0, bias=False, residual="sequential", rotary_pct=1.0)
    if family == "neox":
        return dict(family="neox", layers=2, hidden=64, heads=4, kv_heads=4, ffn=256, vocab=96, max_seq=32,
                    norm_eps=1e-5, activation="gelu", tie_embeddings=False, norm="layernorm", position="rope",
                    rope_theta=10000.0, bias=True, residual="parallel", rotary_pct=0.25)
    raise ValueError(family)


def hf_model(cfg: dict) -> torch.nn.Module:
    """A transformers model of the canonical configuration (eager attention, no dropout)."""
    rope = {"rope_type": "default", "rope_theta": cfg["rope_theta"]}
    if (sc := cfg.get("rope_scaling")) is not None:
        assert sc["type"] == "llama3", sc
        rope = {"rope_type": "llama3", "rope_theta": cfg["rope_theta"], "factor": sc["factor"],
                "low_freq_factor": sc["low_freq_factor"], "high_freq_factor": sc["high_freq_factor"],
                "original_max_position_embeddings": sc["original_max_seq"]}
    if cfg["family"] == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM
        hc = LlamaConfig(vocab_size=cfg["vocab"], hidden_size=cfg["hidden"], intermediate_size=cfg["ffn"],
                         num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
                         num_key_value_heads=cfg["kv_heads"], max_position_embeddings=cfg["max_seq"],
                         rms_norm_eps=cfg["norm_eps"], rope_parameters=rope, attention_bias=cfg["bias"],
                         mlp_bias=cfg["bias"], tie_word_embeddings=cfg["tie_embeddings"], hidden_act="silu",
                         attention_dropout=0.0)
        model = LlamaForCausalLM(hc)
    else:
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
        rope["partial_rotary_factor"] = cfg["rotary_pct"]
        hc = GPTNeoXConfig(vocab_size=cfg["vocab"], hidden_size=cfg["hidden"], intermediate_size=cfg["ffn"],
                           num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
                           max_position_embeddings=cfg["max_seq"], layer_norm_eps=cfg["norm_eps"],
                           rope_parameters=rope, use_parallel_residual=cfg["residual"] == "parallel",
                           hidden_act="gelu", attention_bias=cfg["bias"], tie_word_embeddings=cfg["tie_embeddings"],
                           attention_dropout=0.0, hidden_dropout=0.0)
        model = GPTNeoXForCausalLM(hc)
        assert model.gpt_neox.layers[0].attention.rotary_ndims == int(cfg["hidden"] // cfg["heads"] * cfg["rotary_pct"])
    model.config._attn_implementation = "eager"
    model.train()
    return model


# ----------------------------------------------------------------------------------------------
# Canonical <-> transformers names


def hf_parts(cfg: dict, name: str) -> tuple[str, int | None]:
    """The HF parameter holding canonical `name`, and for NeoX's fused QKV the index (0 q, 1 k,
    2 v) of its part; None when the HF parameter is the canonical tensor itself."""
    fam = cfg["family"]
    if name == "embed.tokens.weight":
        return ("model.embed_tokens.weight" if fam == "llama" else "gpt_neox.embed_in.weight"), None
    if name == "lm_head.weight":
        return "lm_head.weight", None
    if name.startswith("final_norm."):
        return ("model.norm." if fam == "llama" else "gpt_neox.final_layer_norm.") + name.split(".")[-1], None
    _, i, rest = name.split(".", 2)
    module, leaf = rest.rsplit(".", 1)
    if fam == "llama":
        m = {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm", "attn.q": "self_attn.q_proj",
             "attn.k": "self_attn.k_proj", "attn.v": "self_attn.v_proj", "attn.out": "self_attn.o_proj",
             "mlp.gate": "mlp.gate_proj", "mlp.up": "mlp.up_proj", "mlp.down": "mlp.down_proj"}[module]
        return f"model.layers.{i}.{m}.{leaf}", None
    if module in ("attn.q", "attn.k", "attn.v"):
        return f"gpt_neox.layers.{i}.attention.query_key_value.{leaf}", {"attn.q": 0, "attn.k": 1, "attn.v": 2}[module]
    m = {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm", "attn.out": "attention.dense",
         "mlp.up": "mlp.dense_h_to_4h", "mlp.down": "mlp.dense_4h_to_h"}[module]
    return f"gpt_neox.layers.{i}.{m}.{leaf}", None


def split_qkv(cfg: dict, fused: torch.Tensor, part: int) -> torch.Tensor:
    """Part `part` of NeoX's query_key_value weight [3C, C] or bias [3C]: rows are
    [heads, 3, head_dim] (the modeling code views the output as (..., heads, 3*head_dim) and
    chunks the last axis into q, k, v)."""
    H, hd = cfg["heads"], cfg["hidden"] // cfg["heads"]
    v = fused.reshape(H, 3, hd, *fused.shape[1:])
    return v[:, part].reshape(H * hd, *fused.shape[1:])


def to_canonical(cfg: dict, hf: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Canonical tensors (float32 copies) from an HF-named dict (parameters, gradients or Adam
    moments: splitting the fused QKV is a pure row permutation, so it maps each alike)."""
    out = {}
    for name, shape in ckpt_reader.canonical_tensors(cfg):
        key, part = hf_parts(cfg, name)
        t = hf[key].detach().float()
        t = t if part is None else split_qkv(cfg, t, part)
        assert tuple(t.shape) == tuple(shape), f"{name}: {tuple(t.shape)} != {shape}"
        out[name] = t.clone()
    return out


def to_hf(cfg: dict, canon: dict[str, torch.Tensor], hf_shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The HF state dict reassembled from canonical tensors (the fused QKV interleaved back)."""
    out: dict[str, torch.Tensor] = {}
    H, hd = cfg["heads"], cfg["hidden"] // cfg["heads"]
    fused: dict[str, list[torch.Tensor | None]] = {}
    for name, _ in ckpt_reader.canonical_tensors(cfg):
        key, part = hf_parts(cfg, name)
        if part is None:
            out[key] = canon[name]
        else:
            fused.setdefault(key, [None, None, None])[part] = canon[name]
    for key, parts in fused.items():
        stacked = torch.stack([p.reshape(H, hd, *p.shape[1:]) for p in parts], dim=1)
        out[key] = stacked.reshape(3 * H * hd, *parts[0].shape[1:])
    assert set(out) == set(hf_shapes), f"canonical set does not cover the HF model: {set(out) ^ set(hf_shapes)}"
    for key, t in out.items():
        assert tuple(t.shape) == hf_shapes[key], f"{key}: {tuple(t.shape)} != {hf_shapes[key]}"
    return out


def hf_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return dict(model.named_parameters())


def load_canonical(model: torch.nn.Module, cfg: dict, canon: dict[str, torch.Tensor]) -> None:
    """Copies canonical tensors into the model's parameters (in place, keeping the Parameter objects)."""
    params = hf_parameters(model)
    hf = to_hf(cfg, canon, {k: tuple(p.shape) for k, p in params.items()})
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(hf[k].to(p.dtype))


# ----------------------------------------------------------------------------------------------
# Independent functional forward over canonical names (the semantics ReferenceCore implements)


def rotary(x: torch.Tensor, cfg: dict, T: int) -> torch.Tensor:
    """Rotate-half rotary on the first int(head_dim * rotary_pct) dimensions of each head:
    pairs (j, j + r/2) of the rotated part, angle t * theta^(-2j/r); x is [B, heads, T, hd]."""
    hd = x.shape[-1]
    r = int(hd * cfg["rotary_pct"])
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, r, 2, dtype=torch.float64) / r))
    if (sc := cfg.get("rope_scaling")) is not None:
        # Llama 3.1 scaling, written out from its definition (float64): long wavelengths divided
        # by factor, short ones kept, the band between interpolated in 1/wavelength.
        old, lo, hi, factor = sc["original_max_seq"], sc["low_freq_factor"], sc["high_freq_factor"], sc["factor"]
        wl = 2 * math.pi / inv
        s = ((old / wl) - lo) / (hi - lo)
        inv = torch.where(wl > old / lo, inv / factor, torch.where(wl < old / hi, inv, (1 - s) * inv / factor + s * inv))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype), torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    xr, xp = x[..., :r], x[..., r:]
    x1, x2 = xr[..., : r // 2], xr[..., r // 2:]
    rotated = xr * cos + torch.cat([-x2, x1], -1) * sin
    return torch.cat([rotated, xp], -1)


def functional_logits(P: dict[str, torch.Tensor], cfg: dict, inputs: torch.Tensor) -> torch.Tensor:
    B, T = inputs.shape
    C, H, KV = cfg["hidden"], cfg["heads"], cfg["kv_heads"]
    hd, eps = C // H, cfg["norm_eps"]

    def norm(x: torch.Tensor, p: str) -> torch.Tensor:
        if cfg["norm"] == "rmsnorm":
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * P[p + ".weight"]
        return F.layer_norm(x, (C,), P[p + ".weight"], P.get(p + ".bias"), eps)

    def linear(x: torch.Tensor, p: str) -> torch.Tensor:
        return F.linear(x, P[p + ".weight"], P.get(p + ".bias"))

    def attention(h: torch.Tensor, p: str) -> torch.Tensor:
        q = linear(h, p + ".q").view(B, T, H, hd).transpose(1, 2)
        k = linear(h, p + ".k").view(B, T, KV, hd).transpose(1, 2)
        v = linear(h, p + ".v").view(B, T, KV, hd).transpose(1, 2)
        q, k = rotary(q, cfg, T), rotary(k, cfg, T)
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        return linear(a.transpose(1, 2).reshape(B, T, C), p + ".out")

    def mlp(h: torch.Tensor, p: str) -> torch.Tensor:
        if cfg["activation"] == "swiglu":
            return linear(F.silu(linear(h, p + ".gate")) * linear(h, p + ".up"), p + ".down")
        approx = "tanh" if cfg["activation"] == "gelu_tanh" else "none"
        return linear(F.gelu(linear(h, p + ".up"), approximate=approx), p + ".down")

    x = P["embed.tokens.weight"][inputs]
    for i in range(cfg["layers"]):
        p = f"layers.{i}"
        if cfg["residual"] == "parallel":
            x = x + attention(norm(x, p + ".attn_norm"), p + ".attn") + mlp(norm(x, p + ".mlp_norm"), p + ".mlp")
        else:
            x = x + attention(norm(x, p + ".attn_norm"), p + ".attn")
            x = x + mlp(norm(x, p + ".mlp_norm"), p + ".mlp")
    x = norm(x, "final_norm")
    head = P["embed.tokens.weight"] if cfg["tie_embeddings"] else P["lm_head.weight"]
    return F.linear(x, head)


def check_functional(cfg: dict, canon: dict[str, torch.Tensor], inputs: torch.Tensor) -> float:
    """Functional forward vs transformers, both in float64; returns the relative error."""
    model = hf_model(cfg).double()
    load_canonical(model, cfg, {k: v.double() for k, v in canon.items()})
    model.eval()
    with torch.no_grad():
        ours = functional_logits({k: v.double() for k, v in canon.items()}, cfg, inputs)
        theirs = model(input_ids=inputs).logits
    err = float((ours - theirs).abs().max() / theirs.abs().max())
    assert err < 1e-5, f"{cfg['family']}: functional canonical forward disagrees with transformers (relative {err:.3g})"
    return err


def read_canonical(cfg: dict, path: str, dtype: str) -> dict[str, torch.Tensor]:
    """The canonical parameters of the checkpoint at `path`, widened to float32, each checked to
    be stored as `dtype`."""
    with h5py.File(path, "r") as f:
        for n, _ in ckpt_reader.canonical_tensors(cfg):
            assert ref_h5.dtype_of(f, n) == dtype, f"{path}: {n} stored as {ref_h5.dtype_of(f, n)}"
        return {n: torch.from_numpy(ref_h5.read_tensor(f, n).copy()) for n, _ in ckpt_reader.canonical_tensors(cfg)}


def check_reassembled(cfg: dict, path: str, dtype: str, reference: torch.nn.Module, inputs: torch.Tensor) -> None:
    """The canonical parameters written to `path`, read back and loaded into a fresh model, give
    exactly the logits of `reference` (the trained model, parameters as the file stores them)."""
    canon = read_canonical(cfg, path, dtype)
    fresh = hf_model(cfg)
    load_canonical(fresh, cfg, canon)
    fresh.eval()
    was_training = reference.training
    reference.eval()
    with torch.no_grad():
        a, b = fresh(input_ids=inputs).logits, reference(input_ids=inputs).logits
    reference.train(was_training)
    assert torch.equal(a, b), f"{path}: reassembled canonical model does not give the trained model's logits"


# ----------------------------------------------------------------------------------------------
# Training (conventions of ref_make_fixture.py)


def init_params(cfg: dict, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in ckpt_reader.canonical_tensors(cfg):
        if name.endswith("norm.weight"):
            t = 1.0 + 0.05 * torch.randn(shape, generator=g)
        else:
            t = 0.02 * torch.randn(shape, generator=g)
        params[name] = t.float()
    return params


def loss_of(model: torch.nn.Module, cfg: dict, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=inputs).logits.float()
    return F.cross_entropy(logits.reshape(-1, cfg["vocab"]), targets.reshape(-1), ignore_index=-1)


def write_grads(path: str, cfg: dict, opt: dict, grads: dict[str, np.ndarray], loss: float, norm: float,
                note: str = "PyTorch gradients of the fixture step, before clipping") -> None:
    with h5py.File(path, "w") as f:
        for name, _ in ckpt_reader.canonical_tensors(cfg):
            ref_h5.write_tensor(f, name, grads[name], "float32")
        ref_h5.write_root(f, WARMUP_STEPS, cfg, opt, {"loss": loss, "grad_norm": norm, "note": note})


def make_fp32(family: str, out: str, seed: int) -> None:
    """fp32 step of the transformers model with torch.optim.AdamW."""
    cfg = model_config(family)
    opt_cfg = dict(variant="torch", lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, grad_clip=1.0,
                   decay="matrices")
    init = init_params(cfg, seed)
    functional_err = check_functional(cfg, init, make_batch(cfg, 7)[0])
    model = hf_model(cfg)
    load_canonical(model, cfg, init)
    P = hf_parameters(model)
    decay = [p for p in P.values() if decays(opt_cfg, tuple(p.shape))]
    no_decay = [p for p in P.values() if not decays(opt_cfg, tuple(p.shape))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": opt_cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=opt_cfg["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"],
                            foreach=False, fused=False)

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float, dict[str, np.ndarray]]:
        opt.zero_grad(set_to_none=True)
        loss = loss_of(model, cfg, inputs, targets)
        loss.backward()
        grads = np_dict(to_canonical(cfg, {n: p.grad for n, p in P.items()}))
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), opt_cfg["grad_clip"], foreach=False)
        opt.step()
        return float(loss.detach()), float(norm), grads

    for s in range(WARMUP_STEPS):
        step(*make_batch(cfg, 100 + s))

    def state(key: str) -> dict[str, np.ndarray]:
        return np_dict(to_canonical(cfg, {n: opt.state[p][key] for n, p in P.items()}))

    assert all(int(opt.state[p]["step"]) == WARMUP_STEPS for p in P.values())
    before = (np_dict(to_canonical(cfg, P)), state("exp_avg"), state("exp_avg_sq"))
    inputs, targets = make_batch(cfg, 7, ignored=(3, 20))
    os.makedirs(out, exist_ok=True)
    write_checkpoint(os.path.join(out, "before.h5"), cfg, opt_cfg, WARMUP_STEPS, before[0], "float32", before[1],
                     before[2], None, None)
    check_reassembled(cfg, os.path.join(out, "before.h5"), "float32", model, inputs)
    loss, norm, grads = step(inputs, targets)
    assert norm > opt_cfg["grad_clip"], f"clipping must be active (norm {norm})"
    assert abs(norm - global_norm({k: torch.from_numpy(v) for k, v in grads.items()})) < 1e-4 * norm
    ref_h5.write_batch(os.path.join(out, "batch.h5"), inputs.numpy(), targets.numpy())
    write_checkpoint(os.path.join(out, "after.h5"), cfg, opt_cfg, WARMUP_STEPS + 1, np_dict(to_canonical(cfg, P)),
                     "float32", state("exp_avg"), state("exp_avg_sq"), None, {"loss": loss, "grad_norm": norm})
    check_reassembled(cfg, os.path.join(out, "after.h5"), "float32", model, inputs)
    write_grads(os.path.join(out, "grads.h5"), cfg, opt_cfg, grads, loss, norm)
    print(f"{family}-fp32: loss {loss:.9f}, grad norm {norm:.6f}, clip {clip_coefficient(opt_cfg, norm):.6f}, "
          f"functional vs transformers {functional_err:.2e}")


def make_bf16(family: str, out: str, seed: int) -> None:
    """bf16 mixed-precision step: autocast forward/backward of the transformers model with the
    parameters set to the bf16-rounded masters, decoupled AdamW on the fp32 masters."""
    cfg = model_config(family)
    opt_cfg = dict(variant="decoupled", lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, grad_clip=1.0,
                   decay="all")
    shapes = dict(ckpt_reader.canonical_tensors(cfg))
    masters = init_params(cfg, seed)
    m = {n: torch.zeros_like(t) for n, t in masters.items()}
    v = {n: torch.zeros_like(t) for n, t in masters.items()}
    b1, b2, eps, lr, lam = opt_cfg["beta1"], opt_cfg["beta2"], opt_cfg["eps"], opt_cfg["lr"], opt_cfg["weight_decay"]
    model = hf_model(cfg)
    P = hf_parameters(model)

    def step(t: int, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float, dict[str, np.ndarray]]:
        """Step t+1 from state after t completed steps."""
        load_canonical(model, cfg, {n: w.to(torch.bfloat16).float() for n, w in masters.items()})
        for p in P.values():
            p.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_of(model, cfg, inputs, targets)
        loss.backward()
        grads = to_canonical(cfg, {n: p.grad.float() for n, p in P.items()})
        norm = global_norm(grads)
        coef = clip_coefficient(opt_cfg, norm)
        bc1, bc2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
        with torch.no_grad():
            for n, w in masters.items():
                g = grads[n] * coef
                m[n].mul_(b1).add_(g, alpha=1 - b1)
                v[n].mul_(b2).addcmul_(g, g, value=1 - b2)
                wd = lam if decays(opt_cfg, shapes[n]) else 0.0
                upd = (m[n] / bc1) / ((v[n] / bc2).sqrt() + eps) + wd * w
                w.sub_(lr * upd)
        return float(loss.detach()), norm, np_dict(grads)

    for s in range(WARMUP_STEPS):
        step(s, *make_batch(cfg, 200 + s))
    before = (np_dict(masters), np_dict(m), np_dict(v))
    inputs, targets = make_batch(cfg, 8, ignored=(0, 17))
    os.makedirs(out, exist_ok=True)
    write_checkpoint(os.path.join(out, "before.h5"), cfg, opt_cfg, WARMUP_STEPS, before[0], "bfloat16", before[1],
                     before[2], before[0], None)
    load_canonical(model, cfg, {n: w.to(torch.bfloat16).float() for n, w in masters.items()})
    check_reassembled(cfg, os.path.join(out, "before.h5"), "bfloat16", model, inputs)
    loss, norm, grads = step(WARMUP_STEPS, inputs, targets)
    assert norm > opt_cfg["grad_clip"], f"clipping must be active (norm {norm})"
    ref_h5.write_batch(os.path.join(out, "batch.h5"), inputs.numpy(), targets.numpy())
    after_masters = np_dict(masters)
    write_checkpoint(os.path.join(out, "after.h5"), cfg, opt_cfg, WARMUP_STEPS + 1, after_masters, "bfloat16",
                     np_dict(m), np_dict(v), after_masters, {"loss": loss, "grad_norm": norm})
    load_canonical(model, cfg, {n: w.to(torch.bfloat16).float() for n, w in masters.items()})
    check_reassembled(cfg, os.path.join(out, "after.h5"), "bfloat16", model, inputs)
    write_grads(os.path.join(out, "grads.h5"), cfg, opt_cfg, grads, loss, norm)
    print(f"{family}-bf16: loss {loss:.9f}, grad norm {norm:.6f}, clip {clip_coefficient(opt_cfg, norm):.6f}")


def make_exact(family: str, out: str) -> None:
    """grads_fp32.h5 of a bf16 fixture: the loss and gradients transformers computes in float32
    (no autocast) on exactly the bf16 parameters out/before.h5 stores, for out/batch.h5. The
    exact-arithmetic gradient of the stored model, which a float32-compute reference (ckpt's
    core) reproduces to float32 rounding; grads.h5 keeps the autocast gradients of the step."""
    cfg = model_config(family)
    canon = read_canonical(cfg, os.path.join(out, "before.h5"), "bfloat16")
    with h5py.File(os.path.join(out, "grads.h5"), "r") as f:
        opt_cfg = json.loads(ref_h5.attr_str(f, "optimizer"))
    with h5py.File(os.path.join(out, "batch.h5"), "r") as f:
        inputs = torch.from_numpy(f["inputs"][()].astype(np.int64))
        targets = torch.from_numpy(f["targets"][()].astype(np.int64))
    model = hf_model(cfg)
    load_canonical(model, cfg, canon)
    P = hf_parameters(model)
    for p in P.values():
        p.grad = None
    loss = loss_of(model, cfg, inputs, targets)
    loss.backward()
    grads = to_canonical(cfg, {n: p.grad.float() for n, p in P.items()})
    norm = global_norm(grads)
    write_grads(os.path.join(out, "grads_fp32.h5"), cfg, opt_cfg, np_dict(grads), float(loss.detach()), norm,
                "PyTorch float32 gradients (no autocast) of the stored bf16 parameters, before clipping")
    print(f"{family}-bf16 float32 compute: loss {float(loss.detach()):.9f}, grad norm {norm:.6f}")


def write_inv_freq(family: str, out: str) -> None:
    """out/inv_freq.json: transformers' float32 rotary inverse frequencies of the model (the
    `inv_freq` buffer of its rotary embedding), as IEEE bit patterns, for ckpt's float32 table."""
    cfg = model_config(family)
    model = hf_model(cfg)
    inv = model.model.rotary_emb.inv_freq.detach().to(torch.float32).numpy()
    bits = [int(b) for b in inv.view(np.uint32)]
    with open(os.path.join(out, "inv_freq.json"), "w") as f:
        json.dump({"source": f"transformers {__import__('transformers').__version__} LlamaRotaryEmbedding.inv_freq",
                   "rope_scaling": cfg.get("rope_scaling"), "float32_bits": bits, "values": [float(x) for x in inv]}, f, indent=1)
        f.write("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Tests/ReferenceCoreTests/Fixtures", help="fixture directory")
    ap.add_argument("--family", choices=FAMILIES + ("all",), default="all")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps results reproducible)")
    ap.add_argument("--exact-only", action="store_true",
                    help="only (re)write grads_fp32.h5 of the existing bf16 fixtures")
    ap.add_argument("--variant", choices=VARIANTS + ("none",), default="none",
                    help="only make the fp32 fixture of this variant (<variant>-fp32, plus inv_freq.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.variant != "none":
        out = os.path.join(args.out, f"{args.variant}-fp32")
        make_fp32(args.variant, out, seed=31)
        write_inv_freq(args.variant, out)
        return 0
    for i, family in enumerate(FAMILIES):
        if args.family in (family, "all"):
            if not args.exact_only:
                make_fp32(family, os.path.join(args.out, f"{family}-fp32"), seed=11 + 2 * i)
                make_bf16(family, os.path.join(args.out, f"{family}-bf16"), seed=12 + 2 * i)
            make_exact(family, os.path.join(args.out, f"{family}-bf16"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
