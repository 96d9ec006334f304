import CheckpointStore
import Containers
import Foundation

/// A condition a model must meet for a layout table to hold it, with the reason when it does
/// not: `{"field": "residual", "equals": "sequential", "reason": "..."}` or
/// `{"field": "kv_heads", "equals_field": "heads", "reason": "..."}` in a rule set's `requires`
/// (`formats/megatron-layout.md`, "Requirements").
///
/// `field` is a `model_config` key (`formats/checkpoint-v1.md`), compared with the value
/// `equals` or with the value of the key `equals_field`; a model that differs is refused before
/// any work with the reason, in one line (`ShardingError.cannotExpress`), instead of being
/// written in a form its readers would compute differently. A dotted field names a member of
/// an object-valued key (`rope_scaling.low_freq_factor`); it applies only to a model that has
/// that member (a model without rope scaling meets every `rope_scaling.*` requirement).
public struct LayoutRequirement: Codable, Sendable, Hashable {
    /// The `model_config` key (`residual`, `rotary_pct`, ...).
    public var field: String
    /// The value the key must have (exactly one of `equals` and `equalsField` is given).
    public var equals: Value?
    /// The `model_config` key whose value the key must have.
    public var equalsField: String?
    /// Why the target cannot hold another value, for the error message.
    public var reason: String

    /// Creates a requirement.
    public init(field: String, equals: Value? = nil, equalsField: String? = nil, reason: String) {
        self.field = field
        self.equals = equals
        self.equalsField = equalsField
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case field, equals, reason
        case equalsField = "equals_field"
    }

    /// A JSON scalar of a requirement.
    public enum Value: Codable, Sendable, Hashable, CustomStringConvertible {
        /// A string (`"sequential"`).
        case string(String)
        /// A number (`1`).
        case number(Double)
        /// A boolean.
        case bool(Bool)

        /// Decodes a string, number or boolean.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                self = .string(try c.decode(String.self))
            }
        }

        /// Encodes the scalar.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .string(let s): try c.encode(s)
            case .number(let d): try c.encode(d)
            case .bool(let b): try c.encode(b)
            }
        }

        /// The value as written in a message.
        public var description: String {
            switch self {
            case .string(let s): return s
            case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .bool(let b): return String(b)
            }
        }
    }

    /// The members of the object-valued `model_config` keys a dotted field may name (all the
    /// keys a full value of each encodes).
    static let objectMembers: [String: Set<String>] = {
        let full = RopeScaling.llama3(factor: 1, lowFreqFactor: 1, highFreqFactor: 2, originalMaxSeq: 1)
        guard let data = try? JSONEncoder().encode(full), let o = try? JSONValue.parse(Array(data)).objectValue else { return [:] }
        return ["rope_scaling": Set(o.keys)]
    }()

    /// Whether `field` is a key of `model_config`, or a member of one of its object-valued keys.
    static func isKnown(_ field: String, in config: ModelConfig) -> Bool {
        let parts = field.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2 { return objectMembers[parts[0]]?.contains(parts[1]) ?? false }
        return value(of: field, in: config) != nil
    }

    /// The value of `field` in `config` (its `model_config` JSON; a dotted field is a member of
    /// an object-valued key), or nil when `config` has no such key or member.
    static func value(of field: String, in config: ModelConfig) -> Value? {
        guard let data = try? JSONEncoder().encode(config), var object = try? JSONValue.parse(Array(data)).objectValue else { return nil }
        let parts = field.split(separator: ".").map(String.init)
        for p in parts.dropLast() {
            guard let inner = object[p]?.objectValue else { return nil }
            object = inner
        }
        guard let last = parts.last, let v = object[last] else { return nil }
        if let b = v.boolValue { return .bool(b) }
        if let d = v.doubleValue { return .number(d) }
        if let s = v.stringValue { return .string(s) }
        return nil
    }

    /// Throws `cannotExpress` when `config` does not meet the requirement (`.badLayoutData`
    /// when a key is not a model_config key or the requirement names no value to compare with).
    func check(_ config: ModelConfig, layout: String, source: String) throws(ShardingError) {
        guard Self.isKnown(field, in: config) else {
            throw .badLayoutData(source: source, detail: "requirement on '\(field)', which is not a model_config key")
        }
        guard (equals == nil) != (equalsField == nil) else {
            throw .badLayoutData(source: source, detail: "requirement on '\(field)' needs exactly one of equals and equals_field")
        }
        if let other = equalsField, !Self.isKnown(other, in: config) {
            throw .badLayoutData(source: source, detail: "requirement compares '\(field)' with '\(other)', which is not a model_config key")
        }
        // A dotted field the model does not have (a model without rope scaling) is met.
        guard let actual = Self.value(of: field, in: config) else { return }
        let expected: Value?, shown: String
        if let v = equals {
            (expected, shown) = (v, v.description)
        } else {
            let other = equalsField ?? ""
            expected = Self.value(of: other, in: config)
            shown = "\(other) \(expected?.description ?? "(absent)")"
        }
        if actual != expected {
            throw .cannotExpress(layout: layout, family: config.family, reason: "\(field) \(actual) (needs \(shown)): \(reason)")
        }
    }
}
