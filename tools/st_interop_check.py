"""Loads what ckpt's safetensors / Hugging Face writers produce with the real libraries.

Run by tools/st_interop_check.sh (venv python with torch, safetensors, transformers, xxhash):
  OUT/all-dtypes.safetensors       safe_open (pt and numpy): names, dtypes, shapes, bytes, metadata
  OUT/scratch-*                    from_pretrained: no missing / unexpected / mismatched keys,
                                   config fields as written, a forward pass with finite logits
  OUT/rewrite-<fixture>            from_pretrained: state_dict and logits identical to the
                                   fixture transformers saved (Tests/Fixtures/interop)
  OUT/via-wafer-<fixture>          the same for `ckpt convert <fixture> --to wafer`, then
                                   `--to hf` (config.json mapped both ways by ckpt)
Prints one line per check and exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import xxhash
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def raw(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    return b"" if t.numel() == 0 else t.reshape(-1).view(torch.uint8).numpy().tobytes()


ST_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int8: "I8",
    torch.int16: "I16", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL",
}


def check_all_dtypes(out: str) -> None:
    path = os.path.join(out, "all-dtypes.safetensors")
    expected = json.load(open(os.path.join(out, "all-dtypes.expected.json")))
    with safe_open(path, framework="pt") as f:
        check(f.metadata() == {"format": "pt", "writer": "ckpt"}, f"safe_open metadata {f.metadata()}")
        check(sorted(f.keys()) == sorted(expected), f"safe_open keys: {len(list(f.keys()))} tensors")
        for name, e in expected.items():
            t = f.get_tensor(name)
            ok = ST_DTYPES[t.dtype] == e["dtype"] and list(t.shape) == e["shape"] and format(xxhash.xxh3_64_intdigest(raw(t)), "x") == e["xxh3_64"]
            check(ok, f"safe_open tensor {name!r}: {e['dtype']} {e['shape']} bytes")
    with safe_open(path, framework="numpy") as f:
        n = 0
        for name in f.keys():
            if expected[name]["dtype"] != "BF16":
                f.get_tensor(name)
                n += 1
        check(n == len(expected) - 1, f"safe_open numpy reads {n} tensors")


def logits(model, vocab: int) -> torch.Tensor:
    ids = torch.arange(0, 10).remainder(vocab).reshape(1, 10)
    with torch.no_grad():
        return model(input_ids=ids).logits


def check_scratch(out: str, name: str) -> None:
    d = os.path.join(out, name)
    config = json.load(open(os.path.join(d, "config.json")))
    model, info = AutoModelForCausalLM.from_pretrained(d, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    check(not bad, f"{name}: from_pretrained loads with no missing/unexpected/mismatched keys {bad if bad else ''}")
    c = AutoConfig.from_pretrained(d)
    if config["model_type"] == "llama":
        check(c.rope_parameters["rope_theta"] == config["rope_theta"], f"{name}: rope_theta {c.rope_parameters['rope_theta']}")
        check(c.num_key_value_heads == config["num_key_value_heads"], f"{name}: num_key_value_heads {c.num_key_value_heads}")
    if config["model_type"] == "gpt_neox":
        rp = c.rope_parameters
        check(rp["partial_rotary_factor"] == config["rotary_pct"] and rp["rope_theta"] == config["rotary_emb_base"],
              f"{name}: partial_rotary_factor {rp['partial_rotary_factor']}, rope_theta {rp['rope_theta']}")
        check(c.use_parallel_residual == config["use_parallel_residual"], f"{name}: use_parallel_residual {c.use_parallel_residual}")
        check(c.hidden_act == config["hidden_act"], f"{name}: hidden_act {c.hidden_act}")
    check(str(model.dtype).removeprefix("torch.") == config["dtype"], f"{name}: loads as {model.dtype}")
    check(c.tie_word_embeddings == config["tie_word_embeddings"], f"{name}: tie_word_embeddings {c.tie_word_embeddings}")
    with safe_open(os.path.join(d, "model.safetensors" if os.path.exists(os.path.join(d, "model.safetensors")) else sorted(x for x in os.listdir(d) if x.startswith("model-"))[0]), framework="pt") as f:
        key = next(iter(f.keys()))
        check(torch.equal(f.get_tensor(key).to(model.dtype), model.state_dict()[key]), f"{name}: {key} as loaded equals the file")
    y = logits(model, c.vocab_size)
    check(bool(torch.isfinite(y).all()), f"{name}: forward pass, logits {tuple(y.shape)} finite")


def check_rewrite(out: str, fixtures: str, fixture: str, prefix: str = "rewrite-") -> None:
    d = os.path.join(out, prefix + fixture)
    ours, info = AutoModelForCausalLM.from_pretrained(d, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    check(not bad, f"{prefix}{fixture}: from_pretrained loads cleanly {bad if bad else ''}")
    theirs = AutoModelForCausalLM.from_pretrained(os.path.join(fixtures, fixture))
    a, b = ours.state_dict(), theirs.state_dict()
    same = a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)
    check(same, f"{prefix}{fixture}: state_dict identical to transformers' own ({len(a)} tensors)")
    shards = sorted(x for x in os.listdir(d) if x.endswith(".safetensors"))
    check(True, f"{prefix}{fixture}: {len(shards)} shard file(s)")
    check(torch.equal(logits(ours, ours.config.vocab_size), logits(theirs, theirs.config.vocab_size)), f"{prefix}{fixture}: identical logits")


def main() -> None:
    out, fixtures = sys.argv[1], sys.argv[2]
    check_all_dtypes(out)
    for name in sorted(x for x in os.listdir(out) if x.startswith("scratch-")):
        check_scratch(out, name)
    for name in sorted(x for x in os.listdir(out) if x.startswith("rewrite-")):
        check_rewrite(out, fixtures, name.removeprefix("rewrite-"))
    for name in sorted(x for x in os.listdir(out) if x.startswith("via-wafer-")):
        check_rewrite(out, fixtures, name.removeprefix("via-wafer-"), prefix="via-wafer-")
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
