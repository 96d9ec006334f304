/// The per-tensor rules of one model family in one layout table.
public struct LayoutRuleSet: Codable, Sendable, Hashable {
    /// A human-readable summary of the family.
    public var description: String?
    /// The rules, in the order tensors are written to each file.
    public var tensors: [LayoutRule]
    /// Other spellings of stored names accepted when reading (never written), e.g. the old
    /// unprefixed Hugging Face GPT-2 names (`h.0.ln_1.weight` for `transformer.h.0.ln_1.weight`).
    public var aliases: [NameAlias]?
    /// Patterns of stored tensors a source may hold that the layout does not carry (buffers such
    /// as GPT-2's causal mask `attn.bias`, Megatron's `_extra_state`): skipped when reading, and
    /// named in the conversion report. `{i}` and `{j}` match a layer number, `*` any text.
    public var ignored: [String]?
    /// How a sharded layout names the tensors of model chunk `{c}` when each pipeline stage
    /// holds several (a virtual pipeline): this prefix, `{c}` replaced by the chunk index, goes
    /// before every stored name (Megatron: `model{c}.`, the `model0`, `model1`, ... state dicts
    /// of a rank file). Absent: the layout cannot hold a virtual pipeline.
    public var chunkPrefix: String?
    /// How the layout's optimizer numbers the parameters (layouts whose optimizer state is
    /// indexed, not named: Cerebras `.mdl`).
    public var optimizer: ParameterOrder?
    /// Conditions on the model the layout's readers need to compute it as ckpt does (a
    /// sequential residual, a fully rotated head): a model that fails one is refused with the
    /// requirement's reason.
    public var requires: [LayoutRequirement]?
    /// Parameters whose optimizer state a source may store fused while their model tensors are
    /// stored split (torchtitan's `wqkv`): read back as the parts' state (`FusedStateRule`).
    public var fusedOptimizerState: [FusedStateRule]?

    /// Creates a rule set.
    public init(
        description: String? = nil, tensors: [LayoutRule], aliases: [NameAlias]? = nil, ignored: [String]? = nil, chunkPrefix: String? = nil,
        optimizer: ParameterOrder? = nil, requires: [LayoutRequirement]? = nil, fusedOptimizerState: [FusedStateRule]? = nil
    ) {
        self.description = description
        self.tensors = tensors
        self.aliases = aliases
        self.ignored = ignored
        self.chunkPrefix = chunkPrefix
        self.optimizer = optimizer
        self.requires = requires
        self.fusedOptimizerState = fusedOptimizerState
    }

    enum CodingKeys: String, CodingKey {
        case description, tensors, aliases, ignored, optimizer, requires
        case chunkPrefix = "chunk_prefix"
        case fusedOptimizerState = "fused_optimizer_state"
    }
}
