import CheckpointStore

/// The model the reference core computes, read from `model_config` switch by switch: each part
/// (norm, positions, attention, MLP, residual, head) is chosen by its own field, never by the
/// family name, and a field outside what the core computes, or fields that contradict each
/// other, is an error naming the field.
public struct ModelArchitecture: Sendable, Hashable {
    /// The normalisation layers.
    public enum Norm: String, Sendable, Hashable {
        /// `(x − mean)/√(var + eps)·w (+ b)` (`norm = layernorm`).
        case layerNorm = "layernorm"
        /// `x/√(mean(x²) + eps)·w` (`norm = rmsnorm`), no bias.
        case rmsNorm = "rmsnorm"
    }

    /// How positions enter.
    public enum Positions: Sendable, Hashable {
        /// A learned table `embed.positions.weight` added to the token embedding.
        case learned
        /// Rotary embedding of q and k on the first `dimensions` dimensions of each head, base
        /// `theta`, rotate-half pairing (dimension j with j + dimensions/2), the frequencies
        /// changed by `scaling` when it is not nil (`model_config.rope_scaling`).
        case rotary(dimensions: Int, theta: Double, scaling: RopeScaling?)
    }

    /// The MLP.
    public enum MLP: String, Sendable, Hashable {
        /// `down(gelu_tanh(up x))`.
        case geluTanh = "gelu_tanh"
        /// `down(gelu(up x))`, exact erf GELU.
        case geluErf = "gelu"
        /// `down(silu(gate x) · up x)`.
        case swiglu
    }

    /// How a block combines its branches.
    public enum Residual: String, Sendable, Hashable {
        /// `h = x + attn(ln₁ x)`, then `h + mlp(ln₂ h)`.
        case sequential
        /// `x + attn(ln₁ x) + mlp(ln₂ x)` (GPT-NeoX).
        case parallel
    }

    /// Transformer blocks L.
    public let layers: Int
    /// Hidden size C.
    public let hidden: Int
    /// Query heads H.
    public let heads: Int
    /// Key/value heads (H for multi-head attention, fewer for grouped-query attention).
    public let kvHeads: Int
    /// Head dimension C / H.
    public let headDim: Int
    /// MLP width F.
    public let ffn: Int
    /// Vocabulary V.
    public let vocab: Int
    /// Longest sequence S.
    public let maxSeq: Int
    /// The norm layers and their epsilon.
    public let norm: Norm
    /// Epsilon of every norm layer.
    public let normEps: Double
    /// Position encoding.
    public let positions: Positions
    /// The MLP.
    public let mlp: MLP
    /// The residual wiring.
    public let residual: Residual
    /// Whether the head is the token embedding.
    public let tiedHead: Bool
    /// Whether linear layers (and LayerNorms) carry biases.
    public let bias: Bool

    /// Whether norm layers have a bias tensor (LayerNorm in a model with biases).
    public var normHasBias: Bool { norm == .layerNorm && bias }

    /// Reads the parts from `config`; `path` names the checkpoint in errors.
    public init(config: ModelConfig, path: String = "model_config") throws(ReferenceError) {
        func refuse(_ detail: String) -> ReferenceError { .unsupportedModel(path: path, detail: detail) }
        if let problem = config.validationProblem() { throw refuse(problem) }
        guard let norm = Norm(rawValue: config.norm) else { throw refuse("norm '\(config.norm)' (expected layernorm or rmsnorm)") }
        guard let mlp = MLP(rawValue: config.activation) else {
            throw refuse("activation '\(config.activation)' (expected gelu_tanh, gelu or swiglu)")
        }
        guard let residual = Residual(rawValue: config.residual) else {
            throw refuse("residual '\(config.residual)' (expected sequential or parallel)")
        }
        guard config.normEps.isFinite && config.normEps >= 0 else { throw refuse("norm_eps \(config.normEps) must be finite and ≥ 0") }
        switch config.position {
        case "learned":
            // rotary_pct has no meaning without rotary positions; a value other than 1 says the
            // writer meant a rotary model.
            guard config.rotaryPct == 1 else {
                throw refuse("rotary_pct \(config.rotaryPct) with position 'learned' (rotary_pct applies to position 'rope'; learned positions need 1)")
            }
            positions = .learned
        case "rope":
            guard config.ropeTheta.isFinite && config.ropeTheta > 1 else { throw refuse("rope_theta \(config.ropeTheta) must be finite and > 1") }
            positions = .rotary(dimensions: config.rotaryDimensions, theta: config.ropeTheta, scaling: config.ropeScaling)
        default:
            throw refuse("position '\(config.position)' (expected learned or rope)")
        }
        layers = config.layers
        hidden = config.hidden
        heads = config.heads
        kvHeads = config.kvHeads
        headDim = config.headDim
        ffn = config.ffn
        vocab = config.vocab
        maxSeq = config.maxSeq
        self.norm = norm
        normEps = config.normEps
        self.mlp = mlp
        self.residual = residual
        tiedHead = config.tieEmbeddings
        bias = config.bias
    }

    /// Dimensions of each head that rotary embedding rotates (0 with learned positions).
    public var rotaryDimensions: Int {
        if case .rotary(let d, _, _) = positions { return d }
        return 0
    }
}
