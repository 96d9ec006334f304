/// The architecture of a GPT-family model, stored as the `model_config` JSON attribute.
///
/// JSON keys are snake_case (`kv_heads`, `max_seq`, `norm_eps`, `tie_embeddings`, ...).
public struct ModelConfig: Codable, Sendable, Hashable {
    /// Model family: `gpt2` (GPT-2/GPT-3 shapes), `llama` or `neox` (GPT-NeoX / Pythia).
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
    /// How a block combines its two branches: `sequential` (`h = x + attn(ln1 x)`, then
    /// `h + mlp(ln2 h)`) or `parallel` (GPT-NeoX: `x + attn(ln1 x) + mlp(ln2 x)`).
    public var residual: String
    /// Fraction of each head's dimensions that rotary embedding rotates (the first
    /// `Int(headDim * rotaryPct)`); 1 for LLaMA, 0.25 for Pythia.
    public var rotaryPct: Double
    /// Rotary frequency scaling (`llama3` or `linear`, see `RopeScaling`); nil for none, which
    /// is also what a file without the `rope_scaling` key means.
    public var ropeScaling: RopeScaling?

    enum CodingKeys: String, CodingKey {
        case family, layers, hidden, heads, ffn, vocab, activation, norm, position, bias
        case kvHeads = "kv_heads", maxSeq = "max_seq", normEps = "norm_eps"
        case tieEmbeddings = "tie_embeddings", ropeTheta = "rope_theta"
        case residual, rotaryPct = "rotary_pct"
        case ropeScaling = "rope_scaling"
    }

    /// Creates a configuration. Unspecified sizes: `kvHeads` = `heads`, `ffn` = 4 · `hidden`;
    /// unspecified switches take the family's conventions (`ModelConfig.conventions(family:)`,
    /// from `formats/presets.json`; those of gpt2 for a family without presets, which
    /// `validationProblem` then reports).
    public init(
        family: String, layers: Int, hidden: Int, heads: Int, kvHeads: Int? = nil, ffn: Int? = nil,
        vocab: Int, maxSeq: Int, normEps: Double? = nil, activation: String? = nil,
        tieEmbeddings: Bool? = nil, norm: String? = nil, position: String? = nil,
        ropeTheta: Double? = nil, bias: Bool? = nil, residual: String? = nil, rotaryPct: Double? = nil,
        ropeScaling: RopeScaling? = nil
    ) {
        // Only a configuration with a switch left out reads the presets (which are themselves
        // decoded through this initialiser, every switch given).
        let anyLeftOut =
            normEps == nil || activation == nil || tieEmbeddings == nil || norm == nil || position == nil || ropeTheta == nil
            || bias == nil || residual == nil || rotaryPct == nil
        let base = anyLeftOut ? Self.conventions(family: family) ?? Self.conventions(family: "gpt2") : nil
        self.family = family
        self.layers = layers
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.ffn = ffn ?? 4 * hidden
        self.vocab = vocab
        self.maxSeq = maxSeq
        self.normEps = normEps ?? base?.normEps ?? 1e-5
        self.activation = activation ?? base?.activation ?? "gelu_tanh"
        self.tieEmbeddings = tieEmbeddings ?? base?.tieEmbeddings ?? true
        self.norm = norm ?? base?.norm ?? "layernorm"
        self.position = position ?? base?.position ?? "learned"
        self.ropeTheta = ropeTheta ?? base?.ropeTheta ?? 10000
        self.bias = bias ?? base?.bias ?? true
        self.residual = residual ?? base?.residual ?? "sequential"
        self.rotaryPct = rotaryPct ?? base?.rotaryPct ?? 1
        self.ropeScaling = ropeScaling
    }

    /// Decodes `model_config`. `family`, `layers`, `hidden`, `heads`, `vocab` and `max_seq`
    /// are always required. A gpt2 or llama document (the families of format v1.0) may omit
    /// any other key, which then takes the value ckpt's writers of that time meant
    /// (`kv_heads` = `heads`, `ffn` = 4 · `hidden`, the family's conventions; `residual` and
    /// `rotary_pct`, added later, sequential and 1). Any other family needs every key: a
    /// missing one is an error naming it, never a silent default (`formats/checkpoint-v1.md`
    /// section 9.1). `rope_scaling` is optional in every family: absent (or null) is no scaling.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let family = try c.decode(String.self, forKey: .family)
        let everyKey = (decoder.userInfo[Self.requireEveryKey] as? Bool ?? false) || !Self.familiesWithOptionalKeys.contains(family)
        func optional<V: Decodable>(_ type: V.Type, _ key: CodingKeys) throws -> V? {
            if let v = try c.decodeIfPresent(type, forKey: key) { return v }
            guard everyKey else { return nil }
            throw DecodingError.keyNotFound(
                key, .init(codingPath: c.codingPath, debugDescription: "family '\(family)' requires every model_config key"))
        }
        self.init(
            family: family,
            layers: try c.decode(Int.self, forKey: .layers),
            hidden: try c.decode(Int.self, forKey: .hidden),
            heads: try c.decode(Int.self, forKey: .heads),
            kvHeads: try optional(Int.self, .kvHeads),
            ffn: try optional(Int.self, .ffn),
            vocab: try c.decode(Int.self, forKey: .vocab),
            maxSeq: try c.decode(Int.self, forKey: .maxSeq),
            normEps: try optional(Double.self, .normEps),
            activation: try optional(String.self, .activation),
            tieEmbeddings: try optional(Bool.self, .tieEmbeddings),
            norm: try optional(String.self, .norm),
            position: try optional(String.self, .position),
            ropeTheta: try optional(Double.self, .ropeTheta),
            bias: try optional(Bool.self, .bias),
            residual: try optional(String.self, .residual),
            rotaryPct: try optional(Double.self, .rotaryPct),
            ropeScaling: try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling))
    }

    /// Head dimension C / heads.
    public var headDim: Int { hidden / heads }

    /// Checks internal consistency (positive sizes, heads divide hidden, kv_heads divide heads,
    /// known family/activation/norm, a valid `rope_scaling` on a rotary model only); returns a
    /// message for the first problem.
    public func validationProblem() -> String? {
        if !["gpt2", "llama", "neox"].contains(family) { return "unknown family '\(family)' (expected gpt2, llama or neox)" }
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
        if !["sequential", "parallel"].contains(residual) {
            return "unknown residual '\(residual)' (expected sequential or parallel)"
        }
        if position == "rope" {
            if !(rotaryPct > 0 && rotaryPct <= 1) { return "rotary_pct must be in (0, 1] (got \(rotaryPct))" }
            let rotary = Int(Double(headDim) * rotaryPct)
            if rotary < 2 || rotary % 2 != 0 {
                return "rotary_pct \(rotaryPct) of head_dim \(headDim) gives \(rotary) rotary dimensions; it must be even and at least 2"
            }
        }
        if let s = ropeScaling {
            guard position == "rope" else { return "rope_scaling \(s.type) needs position rope (got \(position))" }
            if let p = s.validationProblem() { return p }
        }
        return nil
    }
}
