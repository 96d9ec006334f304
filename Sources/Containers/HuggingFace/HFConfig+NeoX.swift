import CheckpointStore

extension HFConfig {
    /// `GPTNeoXConfig` → `ModelConfig` (family neox: LayerNorm with biases, rotary on the first
    /// `rotary_pct` of each head, parallel or sequential residual, GELU MLP, biases).
    ///
    /// Both spellings transformers has used are read: `rotary_pct` / `rotary_emb_base`
    /// (transformers 4, the Pythia hub files) and `rope_parameters.partial_rotary_factor` /
    /// `rope_theta` (transformers 5); two spellings with two values are a contradiction.
    static func mapNeoX(_ f: inout HFConfigFields) throws(ContainerError) -> ModelConfig {
        let layers = try f.requiredSize("num_hidden_layers")
        let hidden = try f.requiredSize("hidden_size")
        let heads = try f.requiredSize("num_attention_heads")
        let ffn = try f.requiredSize("intermediate_size")
        let vocab = try f.requiredSize("vocab_size")
        let positions = try f.requiredSize("max_position_embeddings")
        let eps = try f.number("layer_norm_eps", default: 1e-5)
        let act = try f.string("hidden_act", default: "gelu")
        let activation: String
        switch act {
        case "gelu": activation = "gelu"
        // The same tanh approximation, spelt three ways (gelu_fast is GPT-NeoX-20B's).
        case "gelu_new", "gelu_fast", "gelu_pytorch_tanh": activation = "gelu_tanh"
        default:
            throw .unsupported(
                path: f.path, detail: "hidden_act \(JSONReader.quote(act)) (ckpt computes gelu, and gelu_new / gelu_fast / gelu_pytorch_tanh as gelu_tanh)")
        }
        let rope = try rope(&f, thetaKeys: ["rotary_emb_base", "rope_theta"], partialKeys: ["rotary_pct"], maxPositions: positions)
        if rope.partial == nil { f.assumed.append("rotary_pct=0.25") }
        let parallel = try f.bool("use_parallel_residual", default: true)
        let tied = try f.bool("tie_word_embeddings", default: false)
        let attentionBias = try f.bool("attention_bias", default: true)
        guard attentionBias else {
            throw .unsupported(
                path: f.path,
                detail:
                    "attention_bias = false: GPT-NeoX keeps the biases of its LayerNorms and MLP, and ckpt's model has biases on every linear layer or on none")
        }
        return ModelConfig(
            family: "neox", layers: layers, hidden: hidden, heads: heads, kvHeads: heads, ffn: ffn, vocab: vocab,
            maxSeq: positions, normEps: eps, activation: activation, tieEmbeddings: tied, norm: "layernorm", position: "rope",
            ropeTheta: rope.theta, bias: true, residual: parallel ? "parallel" : "sequential", rotaryPct: rope.partial ?? 0.25,
            ropeScaling: rope.scaling)
    }

    /// Refuses a `ModelConfig` an HF gpt_neox config cannot express.
    static func checkNeoX(_ m: ModelConfig, path: String) throws(ContainerError) {
        func refuse(_ what: String) -> ContainerError {
            .unsupported(path: path, detail: "model config: HF gpt_neox cannot express \(what)")
        }
        guard m.norm == "layernorm" else { throw refuse("norm \(m.norm)") }
        guard m.position == "rope" else { throw refuse("position \(m.position)") }
        guard m.bias else { throw refuse("a model without biases (its LayerNorms and MLP always have them)") }
        guard m.kvHeads == m.heads else { throw refuse("kv_heads \(m.kvHeads) ≠ heads \(m.heads) (query_key_value is fused per head)") }
        guard m.activation == "gelu" || m.activation == "gelu_tanh" else { throw refuse("activation \(m.activation)") }
        guard m.ropeTheta.isFinite && m.ropeTheta > 0 else { throw refuse("rope_theta \(m.ropeTheta)") }
    }

    /// The members of a gpt_neox config.json. The rotary settings are written both ways, as
    /// transformers 5 (`rope_parameters`) and 4 (`rotary_pct`, `rotary_emb_base`, `rope_theta`,
    /// and `rope_scaling` for a scaled model) read them.
    func neoxMembers() -> [(String, JSONValue)] {
        let theta = JSONValue.double(model.ropeTheta) ?? .null
        let pct = JSONValue.double(model.rotaryPct) ?? .null
        let rope = Self.ropeParameters(theta: model.ropeTheta, scaling: model.ropeScaling, partial: model.rotaryPct)
        var members: [(String, JSONValue)] = [
            ("architectures", .array([.string("GPTNeoXForCausalLM")])),
            ("attention_bias", .bool(true)),
            ("hidden_act", .string(model.activation == "gelu" ? "gelu" : "gelu_new")),
            ("hidden_size", .int(model.hidden)),
            ("intermediate_size", .int(model.ffn)),
            ("layer_norm_eps", .double(model.normEps) ?? .null),
            ("max_position_embeddings", .int(model.maxSeq)),
            ("model_type", .string("gpt_neox")),
            ("num_attention_heads", .int(model.heads)),
            ("num_hidden_layers", .int(model.layers)),
            ("rope_parameters", .object(rope)),
            ("rope_theta", theta),
            ("rotary_emb_base", theta),
            ("rotary_pct", pct),
            ("tie_word_embeddings", .bool(model.tieEmbeddings)),
            ("use_parallel_residual", .bool(model.residual == "parallel")),
            ("vocab_size", .int(model.vocab)),
        ]
        if let s = Self.ropeScalingTransformers4(model.ropeScaling) { members.append(("rope_scaling", .object(s))) }
        return members
    }
}
