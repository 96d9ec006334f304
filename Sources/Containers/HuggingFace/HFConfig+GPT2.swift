import CheckpointStore

extension HFConfig {
    /// `GPT2Config` → `ModelConfig` (family gpt2: learned positions, LayerNorm, biases).
    static func mapGPT2(_ f: inout HFConfigFields) throws(ContainerError) -> ModelConfig {
        let layers = try f.requiredSize("n_layer")
        let hidden = try f.requiredSize("n_embd")
        let heads = try f.requiredSize("n_head")
        let vocab = try f.requiredSize("vocab_size")
        let positions = try f.requiredSize("n_positions")
        if f.object["n_inner"] == nil { f.assumed.append("n_inner=null") }
        let ffn = try f.optionalSize("n_inner") ?? 4 * hidden
        let eps = try f.number("layer_norm_epsilon", default: 1e-5)
        let act = try f.string("activation_function", default: "gelu_new")
        let activation: String
        switch act {
        case "gelu_new", "gelu_pytorch_tanh": activation = "gelu_tanh"
        case "gelu": activation = "gelu"
        default:
            throw .unsupported(
                path: f.path, detail: "activation_function \(JSONReader.quote(act)) (ckpt computes gelu_new, gelu_pytorch_tanh and gelu)")
        }
        let tied = try f.bool("tie_word_embeddings", default: true)
        try f.require("scale_attn_weights", is: true, because: "ckpt always scales attention scores by 1/sqrt(head_dim)")
        try f.require("scale_attn_by_inverse_layer_idx", is: false, because: "ckpt does not scale attention by the layer index")
        try f.require("add_cross_attention", is: false, because: "cross-attention adds tensors ckpt does not model")
        // Upcasting and reordering attention changes rounding in fp16, not the math.
        f.use("reorder_and_upcast_attn")
        if let v = f.object["reorder_and_upcast_attn"], v.boolValue == nil, !v.isNull {
            throw f.bad("reorder_and_upcast_attn", "expected true or false, found \(f.describe(v))")
        }
        return ModelConfig(
            family: "gpt2", layers: layers, hidden: hidden, heads: heads, kvHeads: heads, ffn: ffn, vocab: vocab,
            maxSeq: positions, normEps: eps, activation: activation, tieEmbeddings: tied, norm: "layernorm",
            position: "learned", bias: true)
    }

    /// Refuses a `ModelConfig` an HF gpt2 config cannot express.
    static func checkGPT2(_ m: ModelConfig, path: String) throws(ContainerError) {
        func refuse(_ what: String) -> ContainerError {
            .unsupported(path: path, detail: "model config: HF gpt2 cannot express \(what)")
        }
        guard m.norm == "layernorm" else { throw refuse("norm \(m.norm)") }
        guard m.position == "learned" else { throw refuse("position \(m.position)") }
        guard m.bias else { throw refuse("a model without biases") }
        guard m.kvHeads == m.heads else { throw refuse("kv_heads \(m.kvHeads) ≠ heads \(m.heads)") }
        guard m.activation == "gelu_tanh" || m.activation == "gelu" else { throw refuse("activation \(m.activation)") }
        guard m.residual == "sequential" else { throw refuse("residual \(m.residual) (GPT2Block adds attention, then the MLP)") }
    }

    /// The members of a gpt2 config.json.
    func gpt2Members() -> [(String, JSONValue)] {
        [
            ("activation_function", .string(model.activation == "gelu" ? "gelu" : "gelu_new")),
            ("add_cross_attention", .bool(false)),
            ("architectures", .array([.string("GPT2LMHeadModel")])),
            ("layer_norm_epsilon", .double(model.normEps) ?? .null),
            ("model_type", .string("gpt2")),
            ("n_embd", .int(model.hidden)),
            ("n_head", .int(model.heads)),
            ("n_inner", model.ffn == 4 * model.hidden ? .null : .int(model.ffn)),
            ("n_layer", .int(model.layers)),
            ("n_positions", .int(model.maxSeq)),
            ("reorder_and_upcast_attn", .bool(false)),
            ("scale_attn_by_inverse_layer_idx", .bool(false)),
            ("scale_attn_weights", .bool(true)),
            ("tie_word_embeddings", .bool(model.tieEmbeddings)),
            ("vocab_size", .int(model.vocab)),
        ]
    }
}
