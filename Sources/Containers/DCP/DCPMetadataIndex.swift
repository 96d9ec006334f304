/// DCP's `MetadataIndex`: the key of one stored item, a tensor chunk (`fqn` and the chunk's
/// offset in the global tensor) or a bytes item (`fqn`, no offset).
///
/// The `index` hint torch records (None in Megatron's files) is not part of the identity, as in
/// torch (`field(hash=False, compare=False)`).
public struct DCPMetadataIndex: Sendable, Hashable, CustomStringConvertible {
    /// The fully qualified name of the state-dict entry.
    public var fqn: String
    /// The chunk's offsets in the global tensor; nil for a bytes item.
    public var offset: [Int]?

    /// Creates a key.
    public init(fqn: String, offset: [Int]?) {
        self.fqn = fqn
        self.offset = offset
    }

    /// `fqn` or `fqn@[o0, o1]`, printable.
    public var description: String {
        let name = PrintableName.of(fqn)
        guard let offset else { return name }
        return name + "@[" + offset.map(String.init).joined(separator: ", ") + "]"
    }
}
