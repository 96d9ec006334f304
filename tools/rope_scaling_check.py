"""RoPE scaling through ckpt, checked with the real libraries (run by tools/rope_scaling_check.sh).

  make OUT    writes OUT/<case>/orig: a tiny LlamaForCausalLM or GPTNeoXForCausalLM
              (transformers 5.24, float32, seeded) with the case's rope_parameters,
              save_pretrained
  check OUT   for every OUT/<case>/via-<route> directory ckpt wrote (orig -> route -> hf):
              AutoConfig's rope_parameters equal the original's, the state dict is identical
              and the logits are identical (torch.equal) to the original's, at positions 0..15
              and 9000..9015 (past original_max_position_embeddings, where the scaling
              matters); that the same weights without scaling give other logits there (so the
              check sees the scaling); and for the megatron routes, that megatron-core 0.16.1's
              RotaryEmbedding built from the args ckpt wrote (as GPTModel builds it) computes
              transformers' inverse frequencies
Prints one line per check and exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402

CASES = {
    "llama3.1": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 8192},
    "llama3.2": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 8192},
    "llama3-bands": {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 2.0, "high_freq_factor": 8.0,
                     "original_max_position_embeddings": 256},
    "linear": {"rope_type": "linear", "factor": 4.0},
    "neox-linear": {"rope_type": "linear", "factor": 4.0},
    "neox-llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192},
}
# The routes each case takes (megatron-core computes llama3 with low 1, high 4, original 8192 only).
ROUTES = {"llama3.1": ["wafer", "megatron-torch", "megatron-dist", "cerebras"],
          "llama3.2": ["wafer", "megatron-torch", "megatron-dist", "cerebras"],
          "llama3-bands": ["wafer", "cerebras"], "linear": ["wafer", "cerebras"],
          # GPT-NeoX (partial rotary 0.25, parallel residual) converts to wafer and hf only.
          "neox-linear": ["wafer"], "neox-llama3": ["wafer"]}
THETA = 500000.0

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def make(out: str) -> None:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

    for i, (name, rope) in enumerate(CASES.items()):
        torch.manual_seed(100 + i)
        if name.startswith("neox"):
            config = GPTNeoXConfig(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                                   vocab_size=101, max_position_embeddings=131072, tie_word_embeddings=False,
                                   rope_parameters=dict(rope, rope_theta=THETA, partial_rotary_factor=0.25))
            model = GPTNeoXForCausalLM(config)
        else:
            config = LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, head_dim=16, vocab_size=101, max_position_embeddings=131072,
                                 rms_norm_eps=1e-6, tie_word_embeddings=False,
                                 rope_parameters=dict(rope, rope_theta=THETA))
            model = LlamaForCausalLM(config)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        model.save_pretrained(os.path.join(out, name, "orig"))
        with open(os.path.join(out, name, "routes"), "w") as f:
            f.write(" ".join(ROUTES[name]) + "\n")


def logits(model, start: int) -> torch.Tensor:
    ids = torch.arange(0, 16).remainder(101).reshape(1, 16)
    pos = torch.arange(start, start + 16).reshape(1, 16)
    with torch.no_grad():
        return model(input_ids=ids, position_ids=pos).logits


def megatron_args(path: str, route: str):
    """The args of the first rank file (megatron-torch) or of common.pt (megatron-dist)."""
    it = sorted(d for d in os.listdir(path) if d.startswith("iter_") or d == "release")[0]
    if route == "megatron-torch":
        ranks = sorted(os.listdir(os.path.join(path, it)))
        return torch.load(os.path.join(path, it, ranks[0], "model_optim_rng.pt"), map_location="cpu", weights_only=False)["args"]
    return torch.load(os.path.join(path, it, "common.pt"), map_location="cpu", weights_only=False)["args"]


def check_megatron_core(name: str, route: str, path: str, inv_freq: torch.Tensor) -> None:
    from megatron.core.models.common.embeddings.rotary_pos_embedding import RotaryEmbedding

    a = megatron_args(path, route)
    check(a.use_rope_scaling is True and a.rope_scaling_factor == CASES[name]["factor"],
          f"{name} {route}: args use_rope_scaling {a.use_rope_scaling}, rope_scaling_factor {a.rope_scaling_factor}")
    # As megatron-core's GPTModel builds its RotaryEmbedding from these args.
    r = RotaryEmbedding(kv_channels=a.kv_channels, rotary_percent=a.rotary_percent, rotary_base=a.rotary_base,
                        rope_scaling=a.use_rope_scaling, rope_scaling_factor=a.rope_scaling_factor,
                        use_cpu_initialization=True)
    check(torch.equal(r.inv_freq, inv_freq), f"{name} {route}: megatron-core's inv_freq from the args equals transformers'")


def check_all(out: str) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    for name in CASES:
        orig_dir = os.path.join(out, name, "orig")
        orig = AutoModelForCausalLM.from_pretrained(orig_dir).eval()
        want_rope = dict(AutoConfig.from_pretrained(orig_dir).rope_parameters)
        want = {s: logits(orig, s) for s in (0, 9000)}
        plain_cfg = AutoConfig.from_pretrained(orig_dir)
        plain_cfg.rope_parameters = {k: v for k, v in want_rope.items() if k in ("rope_theta", "partial_rotary_factor")}
        plain_cfg.rope_parameters["rope_type"] = "default"
        plain = AutoModelForCausalLM.from_config(plain_cfg).eval()
        plain.load_state_dict(orig.state_dict())
        check(not torch.equal(logits(plain, 9000), want[9000]), f"{name}: unscaled RoPE gives other logits at 9000.. (the check sees the scaling)")
        inv_freq = orig.base_model.rotary_emb.inv_freq
        for route in open(os.path.join(out, name, "routes")).read().split():
            d = os.path.join(out, name, "via-" + route)
            if not os.path.isdir(d):
                check(False, f"{name} {route}: ckpt wrote no {d}")
                continue
            got_rope = dict(AutoConfig.from_pretrained(d).rope_parameters)
            check(got_rope == want_rope, f"{name} {route}: rope_parameters {got_rope}")
            m, info = AutoModelForCausalLM.from_pretrained(d, output_loading_info=True)
            bad = {k: v for k, v in info.items() if v}
            check(not bad, f"{name} {route}: from_pretrained with no missing/unexpected keys {bad if bad else ''}")
            sd, osd = m.state_dict(), orig.state_dict()
            check(sd.keys() == osd.keys() and all(torch.equal(sd[k], osd[k]) for k in sd), f"{name} {route}: state_dict identical")
            check(torch.equal(m.base_model.rotary_emb.inv_freq, inv_freq), f"{name} {route}: inv_freq identical")
            for s in want:
                check(torch.equal(logits(m.eval(), s), want[s]), f"{name} {route}: logits identical at positions {s}..{s + 15}")
            if route.startswith("megatron"):
                check_megatron_core(name, route, os.path.join(out, name, route), inv_freq)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit("usage: rope_scaling_check.py make|check OUT")
    make(sys.argv[2]) if sys.argv[1] == "make" else check_all(sys.argv[2])
