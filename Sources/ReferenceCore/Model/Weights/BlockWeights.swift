/// The weights of transformer block `i`, bound from `layers.{i}.*` (`formats/tensor-names.md`).
struct BlockWeights<T: ReferenceScalar> {
    /// `layers.{i}.` — the prefix the pass reports when the block's gradients are final.
    let prefix: String
    /// `attn_norm` (HF: `ln_1`, `input_layernorm`).
    let attentionNorm: NormWeights<T>
    /// `attn.q`, `attn.k`, `attn.v`, `attn.out`.
    let query, key, value, output: LinearWeights<T>
    /// `mlp_norm` (HF: `ln_2`, `post_attention_layernorm`).
    let mlpNorm: NormWeights<T>
    /// `mlp.gate` (SwiGLU only).
    let gate: LinearWeights<T>?
    /// `mlp.up`, `mlp.down`.
    let up, down: LinearWeights<T>

    /// Binds block `index` of `architecture` from `tensors`.
    static func bind(_ index: Int, _ a: ModelArchitecture, from tensors: TensorBuffers<T>, source: String) throws(ReferenceError) -> BlockWeights {
        let p = "layers.\(index).", c = a.hidden, kv = a.kvHeads * a.headDim, f = a.ffn
        func linear(_ name: String, _ o: Int, _ i: Int) throws(ReferenceError) -> LinearWeights<T> {
            try .bind(p + name, out: o, in: i, bias: a.bias, from: tensors, source: source)
        }
        func norm(_ name: String) throws(ReferenceError) -> NormWeights<T> {
            try .bind(p + name, columns: c, bias: a.normHasBias, from: tensors, source: source)
        }
        return BlockWeights(
            prefix: p, attentionNorm: try norm("attn_norm"),
            query: try linear("attn.q", c, c), key: try linear("attn.k", kv, c), value: try linear("attn.v", kv, c),
            output: try linear("attn.out", c, c), mlpNorm: try norm("mlp_norm"),
            gate: a.mlp == .swiglu ? try linear("mlp.gate", f, c) : nil,
            up: try linear("mlp.up", f, c), down: try linear("mlp.down", c, f))
    }

    /// The bound tensors.
    var tensors: [BoundTensor<T>] {
        attentionNorm.tensors + query.tensors + key.tensors + value.tensors + output.tensors + mlpNorm.tensors
            + (gate?.tensors ?? []) + up.tensors + down.tensors
    }
}
