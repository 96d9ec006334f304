/// Another spelling of stored names, accepted when reading: a stored name that starts with
/// `storedPrefix` and is not itself a name of the layout is read as `prefix` + the rest, when
/// that is a name of the layout (or an ignored one). Writers always use the layout's names.
public struct NameAlias: Codable, Sendable, Hashable {
    /// The prefix of the layout's names (`transformer.`).
    public var prefix: String
    /// The prefix the other spelling has instead (often empty).
    public var storedPrefix: String

    /// Creates an alias.
    public init(prefix: String, storedPrefix: String) {
        self.prefix = prefix
        self.storedPrefix = storedPrefix
    }

    enum CodingKeys: String, CodingKey {
        case prefix
        case storedPrefix = "stored_prefix"
    }

    /// The layout name `stored` stands for under this alias, or nil when it does not apply.
    func layoutName(for stored: String) -> String? {
        guard stored.hasPrefix(storedPrefix) else { return nil }
        return prefix + stored.dropFirst(storedPrefix.count)
    }
}
