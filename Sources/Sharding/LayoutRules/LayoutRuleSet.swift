/// The per-tensor rules of one model family in one sharded layout.
public struct LayoutRuleSet: Codable, Sendable, Hashable {
    /// A human-readable summary of the family.
    public var description: String?
    /// The rules, in the order tensors are written to each rank file.
    public var tensors: [LayoutRule]
}
