/// The members of a JSON object in document order, each key once.
public struct JSONObject: Sendable, Equatable {
    /// Members in order.
    public private(set) var members: [(key: String, value: JSONValue)]
    private var index: [String: Int]

    /// An empty object.
    public init() {
        members = []
        index = [:]
    }

    /// An object from members; nil when a key repeats.
    public init?(_ members: [(String, JSONValue)]) {
        self.init()
        for (k, v) in members where !insert(k, v) { return nil }
    }

    /// Appends a member; returns false (and changes nothing) when `key` is already present.
    @discardableResult
    public mutating func insert(_ key: String, _ value: JSONValue) -> Bool {
        guard index[key] == nil else { return false }
        index[key] = members.count
        members.append((key, value))
        return true
    }

    /// The value under `key`, or nil.
    public subscript(key: String) -> JSONValue? {
        guard let i = index[key] else { return nil }
        return members[i].value
    }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// Number of members.
    public var count: Int { members.count }

    /// Equal when the same keys map to equal values, in the same order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
