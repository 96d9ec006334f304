import CheckpointStore

extension HFConfig {
    /// `LlamaConfig` → `ModelConfig` (family llama: RoPE, RMSNorm, SwiGLU, optional biases).
    static func mapLlama(_ f: inout HFConfigFields) throws(ContainerError) -> ModelConfig {
        let layers = try f.requiredSize("num_hidden_layers")
        let hidden = try f.requiredSize("hidden_size")
        let heads = try f.requiredSize("num_attention_heads")
        let ffn = try f.requiredSize("intermediate_size")
        let vocab = try f.requiredSize("vocab_size")
        let positions = try f.requiredSize("max_position_embeddings")
        if f.object["num_key_value_heads"] == nil { f.assumed.append("num_key_value_heads=num_attention_heads") }
        let kvHeads = try f.optionalSize("num_key_value_heads") ?? heads
        if let hd = try f.optionalSize("head_dim"), hd * heads != hidden {
            throw .malformed(
                path: f.path,
                detail: "head_dim \(hd) contradicts hidden_size / num_attention_heads = \(hidden) / \(heads) (ckpt's attention has hidden = heads x head_dim)")
        }
        let eps = try f.number("rms_norm_eps", default: 1e-6)
        let act = try f.string("hidden_act", default: "silu")
        guard act == "silu" || act == "swish" else {
            throw .unsupported(path: f.path, detail: "hidden_act \(JSONReader.quote(act)) (ckpt's LLaMA MLP is SwiGLU: silu)")
        }
        let rope = try rope(&f, thetaKeys: ["rope_theta"], partialKeys: nil, maxPositions: positions)
        let tied = try f.bool("tie_word_embeddings", default: false)
        let attentionBias = try f.bool("attention_bias", default: false)
        let mlpBias = try f.bool("mlp_bias", default: false)
        guard attentionBias == mlpBias else {
            throw .unsupported(
                path: f.path,
                detail: "attention_bias = \(attentionBias) but mlp_bias = \(mlpBias) (ckpt's model has biases on every linear layer or on none)")
        }
        return ModelConfig(
            family: "llama", layers: layers, hidden: hidden, heads: heads, kvHeads: kvHeads, ffn: ffn, vocab: vocab,
            maxSeq: positions, normEps: eps, activation: "swiglu", tieEmbeddings: tied, norm: "rmsnorm", position: "rope",
            ropeTheta: rope.theta, bias: attentionBias, ropeScaling: rope.scaling)
    }

    /// Refuses a `ModelConfig` an HF llama config cannot express.
    static func checkLlama(_ m: ModelConfig, path: String) throws(ContainerError) {
        func refuse(_ what: String) -> ContainerError {
            .unsupported(path: path, detail: "model config: HF llama cannot express \(what)")
        }
        guard m.norm == "rmsnorm" else { throw refuse("norm \(m.norm)") }
        guard m.position == "rope" else { throw refuse("position \(m.position)") }
        guard m.activation == "swiglu" else { throw refuse("activation \(m.activation)") }
        guard m.ropeTheta.isFinite && m.ropeTheta > 0 else { throw refuse("rope_theta \(m.ropeTheta)") }
        guard m.residual == "sequential" else { throw refuse("residual \(m.residual) (LlamaDecoderLayer adds attention, then the MLP)") }
        guard m.rotaryPct == 1 else { throw refuse("rotary_pct \(m.rotaryPct) (LlamaAttention rotates the whole head)") }
    }

    /// The members of a llama config.json. The rotary settings are written both ways, as
    /// transformers 5 (`rope_parameters`, as its `save_pretrained` writes it) and 4
    /// (`rope_theta`, and `rope_scaling` for a scaled model) read them.
    func llamaMembers() -> [(String, JSONValue)] {
        let theta = JSONValue.double(model.ropeTheta) ?? .null
        let rope = Self.ropeParameters(theta: model.ropeTheta, scaling: model.ropeScaling)
        var members: [(String, JSONValue)] = [
            ("architectures", .array([.string("LlamaForCausalLM")])),
            ("attention_bias", .bool(model.bias)),
            ("head_dim", .int(model.headDim)),
            ("hidden_act", .string("silu")),
            ("hidden_size", .int(model.hidden)),
            ("intermediate_size", .int(model.ffn)),
            ("max_position_embeddings", .int(model.maxSeq)),
            ("mlp_bias", .bool(model.bias)),
            ("model_type", .string("llama")),
            ("num_attention_heads", .int(model.heads)),
            ("num_hidden_layers", .int(model.layers)),
            ("num_key_value_heads", .int(model.kvHeads)),
            ("rms_norm_eps", .double(model.normEps) ?? .null),
            ("rope_parameters", .object(rope)),
            ("rope_theta", theta),
            ("tie_word_embeddings", .bool(model.tieEmbeddings)),
            ("vocab_size", .int(model.vocab)),
        ]
        if let s = Self.ropeScalingTransformers4(model.ropeScaling) { members.append(("rope_scaling", .object(s))) }
        return members
    }
}
