extension ModelConfig {
    /// The canonical parameter tensors of this configuration, in canonical order, with their
    /// wafer-layout shapes (PyTorch `[out, in]` weights, unpadded vocab, separate Q/K/V).
    public func canonicalTensors() -> [(name: String, shape: [Int])] {
        let c = hidden, f = ffn, kv = kvHeads * headDim
        var out: [(name: String, shape: [Int])] = [("embed.tokens.weight", [vocab, c])]
        if position == "learned" { out.append(("embed.positions.weight", [maxSeq, c])) }
        func addNorm(_ base: String) {
            out.append(("\(base).weight", [c]))
            if norm == "layernorm" && bias { out.append(("\(base).bias", [c])) }
        }
        func linear(_ base: String, _ o: Int, _ i: Int) {
            out.append(("\(base).weight", [o, i]))
            if bias { out.append(("\(base).bias", [o])) }
        }
        for i in 0..<layers {
            let p = "layers.\(i)"
            addNorm("\(p).attn_norm")
            linear("\(p).attn.q", c, c)
            linear("\(p).attn.k", kv, c)
            linear("\(p).attn.v", kv, c)
            linear("\(p).attn.out", c, c)
            addNorm("\(p).mlp_norm")
            if activation == "swiglu" { linear("\(p).mlp.gate", f, c) }
            linear("\(p).mlp.up", f, c)
            linear("\(p).mlp.down", c, f)
        }
        addNorm("final_norm")
        if !tieEmbeddings { out.append(("lm_head.weight", [vocab, c])) }
        return out
    }

    /// Total number of parameters (elements of all canonical tensors).
    public var parameterCount: Int {
        canonicalTensors().reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}
