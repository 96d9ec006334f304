/// One layout data file (`formats/layouts/<kind>-*.json`): the rules of model families for one
/// layout table kind (`LayoutKind.table`), keyed by `ModelConfig.family`.
public struct LayoutDocument: Codable, Sendable, Hashable {
    /// The table kind the rules describe (`megatron`, `hf`).
    public var kind: String
    /// A human-readable summary.
    public var description: String?
    /// Rules per model family.
    public var families: [String: LayoutRuleSet]

    /// Creates a document.
    public init(kind: String, description: String?, families: [String: LayoutRuleSet]) {
        self.kind = kind
        self.description = description
        self.families = families
    }
}
