/// One per-tensor rule of a layout table, as read from a `formats/layouts/*.json` file.
///
/// A rule names one stored tensor (a name template) and the canonical tensors it is made of,
/// how the tensor-parallel ranks split it, which pipeline stage holds it and how it is oriented.
/// Templates may contain `{i}` (global layer index) and `{j}` (layer index local to the stage,
/// or with a virtual pipeline to the model chunk; see `MegatronShape`).
public struct LayoutRule: Codable, Sendable, Hashable {
    /// The stored tensor name template, e.g. `decoder.layers.{j}.self_attention.linear_qkv.weight`
    /// or `transformer.h.{i}.attn.c_attn.weight`.
    public var name: String
    /// The canonical tensor name templates fused into the stored tensor, in fusion order.
    public var canonical: [String]
    /// How tensor-parallel ranks divide the tensor (absent in the data: `replicated`, the whole
    /// tensor, which is all a one-file layout needs).
    public var split: SplitKind
    /// For `fused` rules: how many row blocks each canonical part is cut into before interleaving.
    public var blocks: BlockCount?
    /// Which pipeline stage holds the tensor (absent: `layer` for per-layer rules, else `first`).
    public var stage: StageKind?
    /// Whether the stored tensor is the transpose of the (fused, split) canonical matrix: its
    /// two dimensions swapped (Hugging Face GPT-2 `Conv1D` weights, stored `[in, out]`).
    public var transpose: Bool?
    /// Whether this tensor duplicates a canonical tensor whose primary copy lives under another
    /// rule (Megatron's copy of a tied embedding on the last stage). Copies are written, and
    /// checked against the primary when merging, but never read as a source.
    public var copy: Bool?
    /// For copies: whether sources may lack it and targets never hold it — a tied head that
    /// `torch.save(model.state_dict())` keeps but `save_pretrained` drops. When a source has
    /// it, it is checked against the primary like any replica.
    public var optional: Bool?
    /// Conditions on the model and layout that must hold for the rule to apply.
    public var when: LayoutCondition?
    /// For copies: whether the copy carries no optimizer state of its own (it is not a
    /// parameter: Model Zoo's `transformer_decoder.norm` alias of `ln_f`, a tied head that
    /// `named_parameters()` skips). Sources are not asked for its optimizer sections and targets
    /// write only its model tensor.
    public var noOptimizerState: Bool?
    /// How the stored rows of each attention head order the rotary pairs (absent: as the
    /// canonical tensors do, rotate-half). `interleaved`: Meta's and torchtitan's RoPE, which
    /// rotates consecutive pairs (`torch.view_as_complex`), so stored row `2k + a` of a head is
    /// canonical row `a * head_dim / 2 + k` (`RopeOrder`).
    public var rope: RopeOrder?

    /// Creates a rule.
    public init(
        name: String, canonical: [String], split: SplitKind = .replicated, blocks: BlockCount? = nil, stage: StageKind? = nil,
        transpose: Bool? = nil, copy: Bool? = nil, optional: Bool? = nil, when: LayoutCondition? = nil, noOptimizerState: Bool? = nil,
        rope: RopeOrder? = nil
    ) {
        self.name = name
        self.canonical = canonical
        self.split = split
        self.blocks = blocks
        self.stage = stage
        self.transpose = transpose
        self.copy = copy
        self.optional = optional
        self.when = when
        self.noOptimizerState = noOptimizerState
        self.rope = rope
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, canonical, split, blocks, stage, transpose, copy, optional, when, rope
        case noOptimizerState = "no_optimizer_state"
    }

    /// Decodes a rule; keys the format does not define are an error (a misspelt `transpose`
    /// must not be ignored silently).
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = any.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: any, debugDescription: "unknown key '\(unknown.stringValue)' in a layout rule")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        canonical = try c.decode([String].self, forKey: .canonical)
        split = try c.decodeIfPresent(SplitKind.self, forKey: .split) ?? .replicated
        blocks = try c.decodeIfPresent(BlockCount.self, forKey: .blocks)
        stage = try c.decodeIfPresent(StageKind.self, forKey: .stage)
        transpose = try c.decodeIfPresent(Bool.self, forKey: .transpose)
        copy = try c.decodeIfPresent(Bool.self, forKey: .copy)
        optional = try c.decodeIfPresent(Bool.self, forKey: .optional)
        when = try c.decodeIfPresent(LayoutCondition.self, forKey: .when)
        noOptimizerState = try c.decodeIfPresent(Bool.self, forKey: .noOptimizerState)
        rope = try c.decodeIfPresent(RopeOrder.self, forKey: .rope)
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// How the tensor-parallel ranks divide a tensor.
    public enum SplitKind: String, Codable, Sendable, Hashable {
        /// Every rank holds the whole tensor (norms, row-parallel biases, position embeddings).
        case replicated
        /// Column-parallel: dimension 0 cut into TP contiguous equal parts.
        case column
        /// Row-parallel: dimension 1 cut into TP contiguous equal parts.
        case row
        /// Vocab-parallel: dimension 0 padded with zero rows to the padded vocabulary, then cut
        /// into TP contiguous parts.
        case vocab
        /// Several canonical tensors fused along dimension 0: each part is cut into `blocks` row
        /// blocks, the fused tensor is block 0 of every part, then block 1 of every part, ...,
        /// and TP ranks take contiguous runs of whole blocks. With fewer `kv_heads` blocks than
        /// ranks (TP a multiple of the KV groups) the rows of the whole fused tensor are cut
        /// into TP contiguous pieces, which may start or end inside a part, as megatron-core's
        /// ColumnParallelLinear does.
        case fused
    }

    /// The number of row blocks of a `fused` rule.
    public enum BlockCount: String, Codable, Sendable, Hashable {
        /// One block per key/value head (query group): `[groups, heads_per_group + 2, head_dim]`.
        case kvHeads = "kv_heads"
        /// One block per tensor-parallel rank: each rank holds `[part0_r; part1_r; ...]`.
        case tp
        /// One block: the parts are simply stacked, `[part0; part1; ...]` (Hugging Face GPT-2
        /// `c_attn` = `[Q; K; V]` in canonical orientation).
        case one
    }

    /// Which pipeline stage holds a tensor.
    public enum StageKind: String, Codable, Sendable, Hashable {
        /// Pipeline stage 0 (its first model chunk with a virtual pipeline).
        case first
        /// The last pipeline stage (its last model chunk with a virtual pipeline).
        case last
        /// The stage that owns layer `{i}`: stage = i / (layers / PP); with a virtual pipeline
        /// of VPP chunks, chunk k = i / (layers / (PP x VPP)) on stage k % PP
        /// (`MegatronShape.placement(ofLayer:layers:)`).
        case layer
    }
}

/// Conditions under which a `LayoutRule` applies.
public struct LayoutCondition: Codable, Sendable, Hashable {
    /// Required value of the model's `tie_embeddings`.
    public var tieEmbeddings: Bool?
    /// Minimum number of pipeline stages.
    public var minPP: Int?

    /// Creates a condition.
    public init(tieEmbeddings: Bool? = nil, minPP: Int? = nil) {
        self.tieEmbeddings = tieEmbeddings
        self.minPP = minPP
    }

    enum CodingKeys: String, CodingKey {
        case tieEmbeddings = "tie_embeddings"
        case minPP = "min_pp"
    }
}
