#!/usr/bin/env python3
"""Job configs of torchtitan's own llama3 presets, for ckpt's job-config reader (not run in CI).

    /work/venv-tt/bin/python tools/make_torchtitan_configs.py [--out Tests/Fixtures/interop]

The venv is tools/make_torchtitan_fixture.py's (torchtitan 0.3.0). Writes torchtitan-configs/
under --out:

  <preset>.json   `Trainer.Config.to_dict()` of torchtitan.models.llama3.config_registry's
                  `llama3_8b` and `llama3_debugmodel` (what `--debug.save_config_file` writes for
                  a run of that preset), json.dumps(indent=2) as torchtitan's maybe_log does
  expected.json   per preset: the flavor and the model's shape as torchtitan's Llama3Model.Config
                  holds it, the layer-0 RoPE.Config's scaling members, and the inverse
                  frequencies torchtitan's ComplexRoPE computes for it (the angle of its cache at
                  position 1, built from the same config with max_seq_len 2)

Only configs: no checkpoint of these sizes is made. Every llama3 preset uses ComplexRoPE with
scaling "llama" (factor 8, low 1, high 4, original 8192).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import warnings

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "interop")
NAME = "torchtitan-configs"
PRESETS = ["llama3_8b", "llama3_debugmodel"]


def main() -> None:
    import torch
    import torchtitan
    from torchtitan.models.common import ComplexRoPE
    from torchtitan.models.llama3 import config_registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    out = os.path.join(args.out, NAME)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    expected = {"made_by": {"torchtitan": getattr(torchtitan, "__version__", "0.3.0"), "torch": torch.__version__}, "presets": {}}
    for preset in PRESETS:
        config = getattr(config_registry, preset)()
        with open(os.path.join(out, preset + ".json"), "w") as f:
            json.dump(config.to_dict(), f, indent=2)
            f.write("\n")
        model = config.model_spec.model
        layer = model.layers[0]
        rope_cfg = layer.attention.rope
        rope = ComplexRoPE(dataclasses.replace(rope_cfg, max_seq_len=2))
        freqs = torch.angle(rope.cache[1]).tolist()
        expected["presets"][preset] = {
            "flavor": config.model_spec.flavor,
            "dim": model.dim, "n_layers": len(model.layers), "vocab_size": model.vocab_size,
            "n_heads": layer.attention.n_heads, "n_kv_heads": layer.attention.n_kv_heads,
            "hidden_dim": layer.feed_forward.w1.out_features, "tied": model.enable_weight_tying,
            "rope": {k: getattr(rope_cfg, k) for k in ("dim", "max_seq_len", "theta", "scaling", "scaling_factor",
                                                      "low_freq_factor", "high_freq_factor",
                                                      "original_max_position_embeddings")},
            "eps": layer.attention_norm.eps,
            "inv_freq": [float(x) for x in freqs],
        }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
