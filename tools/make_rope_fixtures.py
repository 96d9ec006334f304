#!/usr/bin/env python3
"""Make the RoPE scaling fixture with the real libraries (not run in CI).

    /work/venv/bin/python tools/make_rope_fixtures.py [--out Tests/Fixtures/interop]

Needs transformers 5.24 and megatron-core 0.16.1 (the venv of tools/make_interop_fixtures.py).
Writes rope-scaling/ under --out:

  hf/<name>.json   config.json files as transformers writes them: LlamaConfig /
                   GPTNeoXConfig(...).save_pretrained, or AutoConfig.from_pretrained of a
                   transformers-4 hub file (hf/<name>.t4.json, its members as the Llama 3.1 hub
                   repository has them) saved again by transformers 5.24
  expected.json    "inv_freq": per case, the inverse frequencies transformers computes
                   (modeling_rope_utils' _compute_llama3_parameters,
                   _compute_linear_scaling_rope_parameters, LlamaRotaryEmbedding's default)
                   in float32, and megatron-core's RotaryEmbedding(rope_scaling=True).inv_freq
                   where megatron-core can express the case (low 1, high 4, original 8192);
                   "hf": per config file, the rope_parameters transformers loads from it, its
                   max_position_embeddings and the inverse frequencies of that config

Every number is what the library produced; ckpt's tests compare its Float64 computation with
them. Each llama3 case is checked to keep every wavelength at least 1e-4 (relative) away from
the band edges, so float32 and Float64 agree on each frequency's band.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import warnings

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")
NAME = "rope-scaling"

# name: head_dim, rotary_pct, theta, rope_parameters (transformers 5 form, without rope_theta)
CASES = {
    "llama3.1-8b": (128, 1.0, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    "llama3.2-1b": (64, 1.0, 500000.0, {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    "llama3-head16": (16, 1.0, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    "llama3-bands": (16, 1.0, 10000.0, {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 2.0,
                                        "high_freq_factor": 8.0, "original_max_position_embeddings": 256}),
    "linear-2": (64, 1.0, 10000.0, {"rope_type": "linear", "factor": 2.0}),
    "linear-partial": (32, 0.25, 10000.0, {"rope_type": "linear", "factor": 4.0}),
    "default": (128, 1.0, 500000.0, {"rope_type": "default"}),
}

# The members of meta-llama/Llama-3.1-8B's config.json (transformers 4.43), as the hub has them.
LLAMA31_8B_T4 = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 128000,
    "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": True, "vocab_size": 128256,
}


def config_for(head_dim: int, pct: float, theta: float, rope: dict):
    from transformers import GPTNeoXConfig, LlamaConfig

    heads = 4
    params = dict(rope, rope_theta=theta)
    if pct != 1.0:
        params["partial_rotary_factor"] = pct
        return GPTNeoXConfig(hidden_size=heads * head_dim, num_attention_heads=heads, intermediate_size=64,
                             num_hidden_layers=1, vocab_size=16, max_position_embeddings=131072, rope_parameters=params)
    return LlamaConfig(hidden_size=heads * head_dim, num_attention_heads=heads, head_dim=head_dim, intermediate_size=64,
                       num_hidden_layers=1, vocab_size=16, max_position_embeddings=131072, rope_parameters=params)


def inv_freq(config) -> list[float]:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    kind = config.rope_parameters["rope_type"]
    if kind == "default":
        f, _ = LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        f, _ = ROPE_INIT_FUNCTIONS[kind](config, "cpu")
    return [float(x) for x in f.tolist()]


def check_margins(name: str, config, rope: dict) -> None:
    """Every unscaled wavelength at least 1e-4 (relative) away from the llama3 band edges."""
    if rope["rope_type"] != "llama3":
        return
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    plain, _ = LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    old = rope["original_max_position_embeddings"]
    for f in plain.tolist():
        for edge in (old / rope["low_freq_factor"], old / rope["high_freq_factor"]):
            assert abs(2 * math.pi / f - edge) / edge > 1e-4, (name, 2 * math.pi / f, edge)


def megatron_inv_freq(head_dim: int, theta: float, rope: dict) -> list[float] | None:
    if rope.get("rope_type") != "llama3" or (rope["low_freq_factor"], rope["high_freq_factor"],
                                             rope["original_max_position_embeddings"]) != (1.0, 4.0, 8192):
        return None
    from megatron.core.models.common.embeddings.rotary_pos_embedding import RotaryEmbedding

    r = RotaryEmbedding(kv_channels=head_dim, rotary_percent=1.0, rotary_base=int(theta), rope_scaling=True,
                        rope_scaling_factor=rope["factor"], use_cpu_initialization=True)
    return [float(x) for x in r.inv_freq.tolist()]


def save_config(config, path: str) -> None:
    d = tempfile.mkdtemp()
    try:
        config.save_pretrained(d)
        shutil.copy(os.path.join(d, "config.json"), path)
    finally:
        shutil.rmtree(d)


def hf_configs(out: str) -> dict:
    from transformers import AutoConfig, LlamaConfig

    hf = os.path.join(out, "hf")
    os.makedirs(hf)
    with open(os.path.join(hf, "llama3.1-8b.t4.json"), "w") as f:
        json.dump(LLAMA31_8B_T4, f, indent=2, sort_keys=True)
        f.write("\n")
    d = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(hf, "llama3.1-8b.t4.json"), os.path.join(d, "config.json"))
        save_config(AutoConfig.from_pretrained(d), os.path.join(hf, "llama3.1-8b.json"))
    finally:
        shutil.rmtree(d)
    # Llama-3.2-1B's shapes and rope_scaling, written by transformers 5.24.
    save_config(LlamaConfig(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        head_dim=64, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_parameters={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_theta": 500000.0}),
        os.path.join(hf, "llama3.2-1b.json"))
    # The transformers-4 spelling of linear scaling ({"type": "linear"}), saved by transformers 5.24.
    save_config(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                            vocab_size=100, max_position_embeddings=4096, rope_scaling={"type": "linear", "factor": 2.0}),
                os.path.join(hf, "linear-legacy.json"))
    expected = {}
    for name in sorted(os.listdir(hf)):
        d = tempfile.mkdtemp()
        try:
            shutil.copy(os.path.join(hf, name), os.path.join(d, "config.json"))
            c = AutoConfig.from_pretrained(d)
        finally:
            shutil.rmtree(d)
        expected[name] = {"rope_parameters": dict(c.rope_parameters), "max_position_embeddings": c.max_position_embeddings,
                          "head_dim": c.head_dim, "inv_freq": inv_freq(c)}
    return expected


def main() -> None:
    import megatron.core
    import torch
    import transformers

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    out = os.path.join(args.out, NAME)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cases = {}
    for name, (head_dim, pct, theta, rope) in CASES.items():
        config = config_for(head_dim, pct, theta, rope)
        freqs = inv_freq(config)
        check_margins(name, config, rope)
        case = {"head_dim": head_dim, "rotary_pct": pct, "rope_theta": theta, "rope_parameters": rope, "inv_freq": freqs}
        mc = megatron_inv_freq(head_dim, theta, rope)
        if mc is not None:
            case["megatron_core_inv_freq"] = mc
        cases[name] = case
    doc = {
        "made_by": {"transformers": transformers.__version__, "megatron_core": megatron.core.__version__,
                    "torch": torch.__version__},
        "inv_freq": cases,
        "hf": hf_configs(out),
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
