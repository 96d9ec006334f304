/// One layout data file (`formats/layouts/<kind>-*.json`): the rules of model families for one
/// layout table kind (`LayoutKind.table`), keyed by `ModelConfig.family`.
public struct LayoutDocument: Codable, Sendable, Hashable {
    /// The table kind the rules describe (`megatron`, `hf`).
    public var kind: String
    /// A human-readable summary.
    public var description: String?
    /// Rules per model family.
    public var families: [String: LayoutRuleSet]
    /// Model families the layout cannot hold, each with the reason (megatron: `neox`, whose
    /// parallel residual megatron-core does not compute). Asking for one is an error that
    /// gives the reason, not merely "no rules".
    public var refusedFamilies: [String: String]?

    /// Creates a document.
    public init(kind: String, description: String?, families: [String: LayoutRuleSet], refusedFamilies: [String: String]? = nil) {
        self.kind = kind
        self.description = description
        self.families = families
        self.refusedFamilies = refusedFamilies
    }

    enum CodingKeys: String, CodingKey {
        case kind, description, families
        case refusedFamilies = "refused_families"
    }
}
