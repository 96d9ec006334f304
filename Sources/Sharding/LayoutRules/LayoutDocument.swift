/// One layout data file (`formats/layouts/<kind>-*.json`): the rules of every model family
/// for one sharded layout kind, keyed by `ModelConfig.family`.
public struct LayoutDocument: Codable, Sendable, Hashable {
    /// The layout kind the rules describe (`megatron`).
    public var kind: String
    /// A human-readable summary.
    public var description: String?
    /// Rules per model family.
    public var families: [String: LayoutRuleSet]
}
