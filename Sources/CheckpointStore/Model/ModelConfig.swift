/// The architecture of a GPT-family model, stored as the `model_config` JSON attribute.
///
/// JSON keys are snake_case (`kv_heads`, `max_seq`, `norm_eps`, `tie_embeddings`, ...).
public struct ModelConfig: Codable, Sendable, Hashable {
    /// Model family: `gpt2` (GPT-2/GPT-3 shapes) or `llama`.
    public var family: String
    /// Number of transformer blocks.
    public var layers: Int
    /// Hidden size C.
    public var hidden: Int
    /// Attention heads.
    public var heads: Int
    /// Key/value heads (query groups); equal to `heads` for multi-head attention.
    public var kvHeads: Int
    /// MLP inner width F.
    public var ffn: Int
    /// Vocabulary size V (unpadded).
    public var vocab: Int
    /// Maximum sequence length S (rows of the learned position table).
    public var maxSeq: Int
    /// Epsilon of the normalisation layers.
    public var normEps: Double
    /// `gelu_tanh`, `gelu` (exact erf) or `swiglu`.
    public var activation: String
    /// Whether the output head shares the token embedding.
    public var tieEmbeddings: Bool
    /// `layernorm` or `rmsnorm`.
    public var norm: String
    /// `learned` or `rope`.
    public var position: String
    /// Rotary base frequency (families with `position == "rope"`).
    public var ropeTheta: Double
    /// Whether linear layers and norms carry biases.
    public var bias: Bool

    enum CodingKeys: String, CodingKey {
        case family, layers, hidden, heads, ffn, vocab, activation, norm, position, bias
        case kvHeads = "kv_heads", maxSeq = "max_seq", normEps = "norm_eps"
        case tieEmbeddings = "tie_embeddings", ropeTheta = "rope_theta"
    }

    /// Creates a configuration; unspecified fields take the family's conventions.
    public init(
        family: String, layers: Int, hidden: Int, heads: Int, kvHeads: Int? = nil, ffn: Int? = nil,
        vocab: Int, maxSeq: Int, normEps: Double = 1e-5, activation: String? = nil,
        tieEmbeddings: Bool? = nil, norm: String? = nil, position: String? = nil,
        ropeTheta: Double = 10000, bias: Bool? = nil
    ) {
        let llama = family == "llama"
        self.family = family
        self.layers = layers
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.ffn = ffn ?? 4 * hidden
        self.vocab = vocab
        self.maxSeq = maxSeq
        self.normEps = normEps
        self.activation = activation ?? (llama ? "swiglu" : "gelu_tanh")
        self.tieEmbeddings = tieEmbeddings ?? !llama
        self.norm = norm ?? (llama ? "rmsnorm" : "layernorm")
        self.position = position ?? (llama ? "rope" : "learned")
        self.ropeTheta = ropeTheta
        self.bias = bias ?? !llama
    }

    /// Decodes, filling fields older writers may omit with the family's conventions.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let family = try c.decode(String.self, forKey: .family)
        self.init(
            family: family,
            layers: try c.decode(Int.self, forKey: .layers),
            hidden: try c.decode(Int.self, forKey: .hidden),
            heads: try c.decode(Int.self, forKey: .heads),
            kvHeads: try c.decodeIfPresent(Int.self, forKey: .kvHeads),
            ffn: try c.decodeIfPresent(Int.self, forKey: .ffn),
            vocab: try c.decode(Int.self, forKey: .vocab),
            maxSeq: try c.decode(Int.self, forKey: .maxSeq),
            normEps: try c.decodeIfPresent(Double.self, forKey: .normEps) ?? 1e-5,
            activation: try c.decodeIfPresent(String.self, forKey: .activation),
            tieEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieEmbeddings),
            norm: try c.decodeIfPresent(String.self, forKey: .norm),
            position: try c.decodeIfPresent(String.self, forKey: .position),
            ropeTheta: try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10000,
            bias: try c.decodeIfPresent(Bool.self, forKey: .bias))
    }

    /// Head dimension C / heads.
    public var headDim: Int { hidden / heads }

    /// Checks internal consistency (positive sizes, heads divide hidden, kv_heads divide heads,
    /// known family/activation/norm); returns a message for the first problem.
    public func validationProblem() -> String? {
        if !["gpt2", "llama"].contains(family) { return "unknown family '\(family)' (expected gpt2 or llama)" }
        for (n, v) in [
            ("layers", layers), ("hidden", hidden), ("heads", heads), ("kv_heads", kvHeads),
            ("ffn", ffn), ("vocab", vocab), ("max_seq", maxSeq),
        ] where v <= 0 {
            return "\(n) must be positive (got \(v))"
        }
        if hidden % heads != 0 { return "heads (\(heads)) must divide hidden (\(hidden))" }
        if heads % kvHeads != 0 { return "kv_heads (\(kvHeads)) must divide heads (\(heads))" }
        if !["gelu_tanh", "gelu", "swiglu"].contains(activation) { return "unknown activation '\(activation)'" }
        if !["layernorm", "rmsnorm"].contains(norm) { return "unknown norm '\(norm)'" }
        if !["learned", "rope"].contains(position) { return "unknown position '\(position)'" }
        return nil
    }
}
