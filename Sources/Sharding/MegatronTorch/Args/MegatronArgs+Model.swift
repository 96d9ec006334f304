import CheckpointStore
import Containers

/// Where the unpadded vocabulary size came from.
public enum MegatronVocabSource: String, Sendable, Hashable {
    /// Given by the caller (`--vocab`).
    case caller
    /// `NullTokenizer` with `vocab_size`: megatron's tokenizer has `vocab_size + 1` tokens (EOD).
    case nullTokenizer
    /// `ckpt_vocab_size`, which ckpt records in the args of the checkpoints it writes (Megatron
    /// ignores the key).
    case recorded
    /// Unknown: the padded size is used, so the padding rows become vocabulary rows.
    case padded
}

extension MegatronArgs {
    /// The args key under which ckpt records the unpadded vocabulary of the checkpoints it
    /// writes (Megatron records only `padded_vocab_size` and ignores unknown keys).
    public static let recordedVocabKey = "ckpt_vocab_size"

    /// The unpadded vocabulary. A Megatron checkpoint records only `padded_vocab_size` (and
    /// Megatron trains the padding rows, so they cannot be told apart); the true size comes
    /// from the caller, or from the tokenizer when it is `NullTokenizer` (whose size is
    /// `vocab_size + 1`). Otherwise the padded size is used and the padding rows are kept as
    /// vocabulary rows (lossless for Megatron -> Megatron at the same TP; the source says so).
    /// A given size must pad to exactly `padded_vocab_size` at this TP.
    public func vocab(requested: Int?) throws(ContainerError) -> (vocab: Int, source: MegatronVocabSource) {
        let r = reader
        if let v = requested {
            guard v >= 1, shape.paddedVocab(v) == paddedVocab else {
                throw .unsupported(
                    path: path,
                    detail:
                        "vocab \(v) pads to \(v >= 1 ? shape.paddedVocab(v) : 0) at TP \(shape.tp) with make_vocab_size_divisible_by \(shape.vocabDivisibleBy), but args.padded_vocab_size = \(paddedVocab)"
                )
            }
            return (v, .caller)
        }
        if let n = try r.int(MegatronArgs.recordedVocabKey, atLeast: 1), shape.paddedVocab(n) == paddedVocab {
            return (n, .recorded)
        }
        if try r.string("tokenizer_type") == "NullTokenizer", let n = try r.int("vocab_size", atLeast: 1),
            shape.paddedVocab(n + 1) == paddedVocab
        {
            return (n + 1, .nullTokenizer)
        }
        return (paddedVocab, .padded)
    }

    /// The architecture as ckpt's `model_config`, with the vocabulary from `vocab(requested:)`.
    ///
    /// family `llama` when `swiglu`, else `gpt2`; `num_query_groups` when
    /// `group_query_attention`; activation `swiglu`, or `gelu_tanh` when megatron-core fuses
    /// the bias into its tanh-approximated GeLU (`bias_gelu_fusion` with `add_bias_linear`),
    /// else `gelu` (exact erf, megatron-core's `F.gelu`); `layernorm_epsilon`; `rotary_base`; `rotary_percent`;
    /// `use_rope_scaling` with `rope_scaling_factor` (default 8) as `rope_scaling` llama3 with
    /// megatron-core's fixed low_freq_factor 1, high_freq_factor 4 and original length 8192;
    /// `add_bias_linear`; tied unless `untie_embeddings_and_output_weights`.
    public func modelConfig(vocab requested: Int? = nil) throws(ContainerError) -> ModelConfig {
        let r = reader
        for (name, why) in [
            ("squared_relu", "squared-ReLU MLPs are not supported"), ("quick_geglu", "quick-GeGLU MLPs are not supported"),
            ("qk_layernorm", "QK layer norms are not supported"),
            ("apply_layernorm_1p", "zero-centred (1p) layer-norm weights are not supported"),
            ("rotary_interleaved", "interleaved rotary embeddings are not supported"),
        ] where try r.flag(name) {
            throw .unsupported(path: path, detail: "args.\(name) = True: \(why)")
        }
        if let f = try r.double("rotary_seq_len_interpolation_factor"), f != 1 {
            throw .unsupported(path: path, detail: "args.rotary_seq_len_interpolation_factor = \(f): RoPE interpolation is not supported")
        }
        let layers = try r.requiredInt("num_layers", atLeast: 1)
        let hidden = try r.requiredInt("hidden_size", atLeast: 1)
        let heads = try r.requiredInt("num_attention_heads", atLeast: 1)
        let kvHeads = try r.flag("group_query_attention") ? try r.requiredInt("num_query_groups", atLeast: 1) : heads
        let ffn = try r.int("ffn_hidden_size", atLeast: 1) ?? 4 * hidden
        let maxSeq = try r.requiredInt("max_position_embeddings", atLeast: 1)
        if let kv = try r.int("kv_channels", atLeast: 1), kv.multipliedReportingOverflow(by: heads) != (hidden, false) {
            throw .unsupported(
                path: path, detail: "args.kv_channels = \(kv) differs from hidden_size / num_attention_heads = \(hidden / heads)")
        }
        let swiglu = try r.flag("swiglu")
        let bias: Bool
        if r.value("add_bias_linear") == nil, r.value("disable_bias_linear") != nil {
            bias = !(try r.flag("disable_bias_linear"))
        } else {
            bias = r.value("add_bias_linear") == nil ? true : try r.flag("add_bias_linear")
        }
        if try r.flag("add_qkv_bias") && !bias {
            throw .unsupported(path: path, detail: "args.add_qkv_bias = True without add_bias_linear: QKV-only biases are not supported")
        }
        let norm: String
        switch try r.string("normalization") ?? "LayerNorm" {
        case "LayerNorm": norm = "layernorm"
        case "RMSNorm": norm = "rmsnorm"
        case let other: throw .unsupported(path: path, detail: "args.normalization = '\(other)' (ckpt reads LayerNorm and RMSNorm)")
        }
        if norm == "layernorm" && !bias {
            throw .unsupported(
                path: path,
                detail:
                    "args.add_bias_linear = False with normalization LayerNorm: the norms keep biases the linear layers lack, which model_config cannot express"
            )
        }
        let position: String
        var rotaryPct = 1.0
        var scaling: RopeScaling?
        switch try r.string("position_embedding_type") ?? "learned_absolute" {
        case "learned_absolute":
            if r.value("add_position_embedding") != nil, !(try r.flag("add_position_embedding")) {
                throw .unsupported(path: path, detail: "args.add_position_embedding = False: models without position embeddings are not supported")
            }
            position = "learned"
        case "rope":
            // megatron-core rotates the first int(kv_channels x rotary_percent) dimensions of
            // each head, rotate-half, as ckpt's rotary_pct does.
            rotaryPct = try r.double("rotary_percent") ?? 1
            let rotated = rotaryPct > 0 && rotaryPct <= 1 ? Int(Double(hidden / heads) * rotaryPct) : 0
            if rotated < 2 || rotated % 2 != 0 {
                throw .unsupported(
                    path: path,
                    detail:
                        "args.rotary_percent = \(rotaryPct) rotates \(rotated) of the \(hidden / heads) dimensions of each head (ckpt needs an even number, at least 2)"
                )
            }
            position = "rope"
            scaling = try ropeScaling()
        case let other:
            throw .unsupported(path: path, detail: "args.position_embedding_type = '\(other)' (ckpt reads learned_absolute and rope)")
        }
        let activation: String
        if swiglu {
            activation = "swiglu"
        } else {
            if try r.flag("use_te_activation_func") {
                throw .unsupported(path: path, detail: "args.use_te_activation_func = True: Transformer Engine's GeLU variant is not recorded")
            }
            let fused = r.value("bias_gelu_fusion") == nil ? false : try r.flag("bias_gelu_fusion")
            activation = fused && bias ? "gelu_tanh" : "gelu"
        }
        let (vocab, _) = try self.vocab(requested: requested)
        let config = ModelConfig(
            family: swiglu ? "llama" : "gpt2", layers: layers, hidden: hidden, heads: heads, kvHeads: kvHeads, ffn: ffn,
            vocab: vocab, maxSeq: maxSeq, normEps: try r.double("layernorm_epsilon") ?? 1e-5, activation: activation,
            tieEmbeddings: !(try r.flag("untie_embeddings_and_output_weights")), norm: norm, position: position,
            ropeTheta: try r.double("rotary_base") ?? 10000, bias: bias, rotaryPct: rotaryPct, ropeScaling: scaling)
        if let problem = config.validationProblem() {
            throw .unsupported(path: path, detail: "args describe an invalid model: \(problem)")
        }
        if layers % shape.pp != 0 {
            throw .unsupported(path: path, detail: "args.num_layers = \(layers) is not a multiple of pipeline_model_parallel_size = \(shape.pp)")
        }
        if layers % shape.chunks != 0 {
            throw .unsupported(
                path: path,
                detail: "args.num_layers = \(layers) is not a multiple of PP \(shape.pp) x virtual_pipeline_model_parallel_size \(shape.vpp)")
        }
        return config
    }

    /// megatron-core 0.16.1's Llama 3 scaling (`--use-rope-scaling`): `RotaryEmbedding`
    /// applies `_apply_scaling(inv_freq, factor=rope_scaling_factor)`, whose other parameters
    /// are fixed (`MegatronArgs.llama3Fixed`); nil without the flag.
    func ropeScaling() throws(ContainerError) -> RopeScaling? {
        guard try reader.flag("use_rope_scaling") else { return nil }
        let factor = try reader.double("rope_scaling_factor") ?? Self.defaultRopeScalingFactor
        guard factor.isFinite && factor > 0 else {
            throw .unsupported(path: path, detail: "args.rope_scaling_factor = \(factor): a RoPE scaling factor must be positive")
        }
        let f = Self.llama3Fixed
        return .llama3(factor: factor, lowFreqFactor: f.low, highFreqFactor: f.high, originalMaxSeq: f.original)
    }

    /// The parameters megatron-core 0.16.1's `RotaryEmbedding._apply_scaling` fixes (its
    /// defaults; `GPTModel` passes only the factor).
    public static let llama3Fixed = (low: 1.0, high: 4.0, original: 8192)

    /// `--rope-scaling-factor`'s default in Megatron-LM core_v0.16.1 (and GPTModel's).
    public static let defaultRopeScalingFactor = 8.0

    /// A note for an export whose scaling factor is not 8: Megatron-LM core_v0.16.1's
    /// `gpt_builders.py` builds `GPTModel(rope_scaling=args.use_rope_scaling)` without
    /// `rope_scaling_factor`, so its `pretrain_gpt.py` scales with 8 whatever the args say;
    /// megatron-core's `GPTModel` itself takes the factor. Nil otherwise.
    public static func ropeScalingNote(_ config: ModelConfig) -> String? {
        guard let f = config.ropeScaling?.factor, f != defaultRopeScalingFactor else { return nil }
        return
            "args.rope_scaling_factor = \(f): Megatron-LM core_v0.16.1's gpt_builders.py does not pass it to GPTModel (which then scales by 8.0); build the model with GPTModel(rope_scaling_factor=\(f)) to compute the source's frequencies"
    }
}
