/// One per-tensor rule of a sharded layout, as read from a `formats/layouts/*.json` file.
///
/// A rule names one sharded (megatron) tensor and the canonical tensors it is made of, how the
/// tensor-parallel ranks split it and which pipeline stage holds it. Templates may contain `{i}`
/// (global layer index, canonical names) and `{j}` (stage-local layer index, sharded names).
public struct LayoutRule: Codable, Sendable, Hashable {
    /// The sharded tensor name template, e.g. `decoder.layers.{j}.self_attention.linear_qkv.weight`.
    public var megatron: String
    /// The canonical tensor name templates fused into the sharded tensor, in fusion order.
    public var canonical: [String]
    /// How tensor-parallel ranks divide the tensor.
    public var split: SplitKind
    /// For `fused` rules: how many row blocks each canonical part is cut into before interleaving.
    public var blocks: BlockCount?
    /// Which pipeline stage holds the tensor.
    public var stage: StageKind
    /// Whether this tensor duplicates a canonical tensor whose primary copy lives under another
    /// rule (Megatron's copy of a tied embedding on the last stage). Copies are written, and
    /// checked against the primary when merging, but never read as a source.
    public var copy: Bool?
    /// Conditions on the model and layout that must hold for the rule to apply.
    public var when: LayoutCondition?

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
        /// and TP ranks take contiguous runs of whole blocks.
        case fused
    }

    /// The number of row blocks of a `fused` rule.
    public enum BlockCount: String, Codable, Sendable, Hashable {
        /// One block per key/value head (query group): `[groups, heads_per_group + 2, head_dim]`.
        case kvHeads = "kv_heads"
        /// One block per tensor-parallel rank: each rank holds `[part0_r; part1_r; ...]`.
        case tp
    }

    /// Which pipeline stage holds a tensor.
    public enum StageKind: String, Codable, Sendable, Hashable {
        /// Pipeline stage 0.
        case first
        /// The last pipeline stage.
        case last
        /// The stage that owns layer `{i}`: stage = i / (layers / PP).
        case layer
    }
}

/// Conditions under which a `LayoutRule` applies.
public struct LayoutCondition: Codable, Sendable, Hashable {
    /// Required value of the model's `tie_embeddings`.
    public var tieEmbeddings: Bool?
    /// Minimum number of pipeline stages.
    public var minPP: Int?

    enum CodingKeys: String, CodingKey {
        case tieEmbeddings = "tie_embeddings"
        case minPP = "min_pp"
    }
}
