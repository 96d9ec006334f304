import Foundation

/// A JSON document as a tree, encoded and decoded exactly: integers stay integers, doubles keep
/// every bit (Foundation's `JSONEncoder`/`JSONDecoder` round-trip doubles exactly, which
/// `JSONSerialization` does not), and object members keep their order when written.
///
/// A plain JSON number decodes as `.int` when it is an integer that fits 64 bits, otherwise as
/// `.double`; writers that need a double with an integral value must tag it themselves
/// (`PickleJSON` does).
indirect enum JSONTree: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONTree])
    case object([(String, JSONTree)])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: Key.self) {
            var members: [(String, JSONTree)] = []
            for k in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members.append((k.stringValue, try c.decode(JSONTree.self, forKey: k)))
            }
            self = .object(members)
            return
        }
        if var a = try? decoder.unkeyedContainer() {
            var items: [JSONTree] = []
            while !a.isAtEnd { items.append(try a.decode(JSONTree.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for i in items { try c.encode(i) }
        case .object(let members):
            var c = encoder.container(keyedBy: Key.self)
            for (k, v) in members { try c.encode(v, forKey: Key(k)) }
        }
    }

    static func == (a: JSONTree, b: JSONTree) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let b): h.combine(b)
        case .int(let i): h.combine(i)
        case .double(let d): h.combine(d.bitPattern)
        case .string(let s): h.combine(s)
        case .array(let a): h.combine(a)
        case .object(let m):
            for (k, v) in m {
                h.combine(k)
                h.combine(v)
            }
        }
    }

    /// The member `key` of an object.
    subscript(key: String) -> JSONTree? {
        if case .object(let m) = self { return m.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text with sorted keys.
    var text: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// Parses JSON text; nil when it is not JSON.
    static func parse(_ text: String) -> JSONTree? {
        try? JSONDecoder().decode(JSONTree.self, from: Data(text.utf8))
    }
}
