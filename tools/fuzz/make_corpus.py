"""Seeds the fuzz corpora (plain python3, no third-party packages).

corpus/safetensors: valid small files (every dtype, zero-size tensors, whitespace padding,
metadata, unknown members, the Hugging Face fixtures' smallest shards) and one file per
hostile case of ContainersTests' SafetensorsHostileHeaderTests.
corpus/hf-json: config.json and index files of the fixtures, and broken variants.
"""

from __future__ import annotations

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "interop")


def st(header: str | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def entry(dtype: str, shape: list[int], b: int, e: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


def safetensors_corpus() -> dict[str, bytes]:
    c: dict[str, bytes] = {}
    valid = {"__metadata__": {"format": "pt"}, "a": entry("F32", [2, 3], 0, 24), "b": entry("I64", [2], 24, 40)}
    c["valid-two"] = st(json.dumps(valid, separators=(",", ":")), bytes(range(40)))
    widths = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
              "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
              "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}
    hdr, off = {}, 0
    for i, (d, bits) in enumerate(widths.items()):
        hdr[f"t{i}"] = entry(d, [8], off, off + bits)
        off += bits
    c["valid-every-dtype"] = st(json.dumps(hdr), bytes(off))
    c["valid-zero-size"] = st(json.dumps({"e": entry("F32", [0, 4], 0, 0), "x": entry("U8", [2], 0, 2), "s": entry("BF16", [], 2, 4)}), b"\x01\x02\x80\x3f")
    c["valid-padded"] = st(" \n\t" + json.dumps({"a": entry("U8", [1], 0, 1)}) + "       ", b"\x09")
    c["valid-unknown-member"] = st(json.dumps({"a": {**entry("U8", [1], 0, 1), "note": {"deep": [1, {"x": None}]}}}), b"\x01")
    c["valid-empty"] = st("{}")
    c["valid-escapes"] = st('{"a\\"b\\u00e9\\ud83d\\ude00":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}', b"\x05")
    z = bytes(64)
    hostile = {
        "offset-past-eof": st('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', z[:8]),
        "overlap": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', z[:12]),
        "gap-at-start": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', z[:12]),
        "gap-between": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}', z[:20]),
        "huge-header-length": st("{}", length=100_000_001),
        "header-past-file": st("{}", length=1000),
        "non-utf8": st(b'{"a\xff":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
        "non-utf8-surrogate": st(b'{"a\xed\xa0\x80":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
        "duplicate-name": st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', z[:2]),
        "duplicate-in-entry": st('{"a":{"dtype":"U8","shape":[1],"dtype":"F32","data_offsets":[0,1]}}', z[:1]),
        "duplicate-in-metadata": st('{"__metadata__":{"format":"pt","format":"np"}}'),
        "duplicate-deep": st('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"extra":[{"k":1,"k":2}]}}'),
        "wrong-byte-length": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}', z[:12]),
        "unknown-dtype": st('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', z[:4]),
        "negative-dim": st('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'),
        "metadata-not-string": st('{"__metadata__":{"format":"pt","epoch":3}}'),
        "trailing-bytes": st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', z[:5]),
        "shape-overflow": st('{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'),
        "bits-overflow": st('{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}'),
        "dim-beyond-u64": st('{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}'),
        "sub-byte": st('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', z[:1]),
        "end-before-begin": st('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}'),
        "rank-65": st('{"a":{"dtype":"U8","shape":[' + ",".join(["1"] * 65) + '],"data_offsets":[0,1]}}', z[:1]),
        "deep-nesting": st('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":' + "[" * 70 + "]" * 70 + "}}"),
        "long-number": st('{"a":{"dtype":"U8","shape":[' + "1" * 70 + '],"data_offsets":[0,0]}}'),
        "not-object": st("[]"),
        "trailing-comma": st('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},}'),
        "lone-surrogate": st('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
        "control-in-name": st('{"a\\nb":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', z[:4]),
        "short": b"\x01\x02\x03",
    }
    c.update({"hostile-" + k: v for k, v in hostile.items()})
    for name in ["hf-llama-sharded/model-00005-of-00005.safetensors", "hf-gpt2-sharded/model-00004-of-00004.safetensors"]:
        p = os.path.join(FIXTURES, name)
        if os.path.exists(p):
            c["fixture-" + name.replace("/", "-")] = open(p, "rb").read()
    return c


def json_corpus() -> dict[str, bytes]:
    c: dict[str, bytes] = {}
    for d in ["hf-gpt2", "hf-llama", "hf-gpt2-sharded", "hf-llama-sharded", "hf-neox"]:
        for f in ["config.json", "model.safetensors.index.json"]:
            p = os.path.join(FIXTURES, d, f)
            if os.path.exists(p):
                c[f"{d}-{f}"] = open(p, "rb").read()
    rope = os.path.join(FIXTURES, "rope-scaling", "hf")
    if os.path.isdir(rope):
        for f in sorted(os.listdir(rope)):
            c[f"rope-scaling-{f}"] = open(os.path.join(rope, f), "rb").read()
    c["rope-scaling"] = b'{"model_type":"llama","num_hidden_layers":1,"hidden_size":8,"num_attention_heads":2,"intermediate_size":16,"vocab_size":10,"max_position_embeddings":4,"rope_scaling":{"rope_type":"llama3","factor":8.0}}'
    c["neox-legacy"] = b'{"model_type":"gpt_neox","num_hidden_layers":1,"hidden_size":16,"num_attention_heads":2,"intermediate_size":64,"vocab_size":10,"max_position_embeddings":4,"rotary_pct":0.25,"rotary_emb_base":10000,"use_parallel_residual":false,"hidden_act":"gelu_fast","rope_scaling":null}'
    c["neox-contradiction"] = b'{"model_type":"gpt_neox","num_hidden_layers":1,"hidden_size":16,"num_attention_heads":2,"intermediate_size":64,"vocab_size":10,"max_position_embeddings":4,"rotary_pct":0.5,"rope_parameters":{"rope_type":"default","rope_theta":1e4,"partial_rotary_factor":0.25}}'
    c["index-escape"] = b'{"weight_map":{"a":"../x.safetensors","b":"/etc/passwd","c":"a/b.safetensors"}}'
    c["duplicate"] = b'{"model_type":"gpt2","n_layer":2,"n_layer":3}'
    c["escapes"] = b'["\\u00e9\\ud83d\\ude00",1e-05,-0,12345678901234567890,{"":null}]'
    return c


def write(dir_name: str, files: dict[str, bytes]) -> None:
    # Seeds are (re)written by name; units the fuzzer merged in beside them are kept.
    d = os.path.join(HERE, "corpus", dir_name)
    os.makedirs(d, exist_ok=True)
    for k, v in files.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    print(f"{d}: {len(files)} files")


if __name__ == "__main__":
    write("safetensors", safetensors_corpus())
    write("hf-json", json_corpus())
    sys.exit(0)
