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
/// written in a form its readers would compute differently.
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

    /// The value of `field` in `config` (its `model_config` JSON), or nil when `config` has no
    /// such key.
    static func value(of field: String, in config: ModelConfig) -> Value? {
        guard let data = try? JSONEncoder().encode(config), let object = try? JSONValue.parse(Array(data)).objectValue,
            let v = object[field]
        else { return nil }
        if let b = v.boolValue { return .bool(b) }
        if let d = v.doubleValue { return .number(d) }
        if let s = v.stringValue { return .string(s) }
        return nil
    }

    /// Throws `cannotExpress` when `config` does not meet the requirement (`.badLayoutData`
    /// when a key is not a model_config key or the requirement names no value to compare with).
    func check(_ config: ModelConfig, layout: String, source: String) throws(ShardingError) {
        guard let actual = Self.value(of: field, in: config) else {
            throw .badLayoutData(source: source, detail: "requirement on '\(field)', which is not a model_config key")
        }
        let expected: Value, shown: String
        switch (equals, equalsField) {
        case (let v?, nil):
            (expected, shown) = (v, v.description)
        case (nil, let other?):
            guard let v = Self.value(of: other, in: config) else {
                throw .badLayoutData(source: source, detail: "requirement compares '\(field)' with '\(other)', which is not a model_config key")
            }
            (expected, shown) = (v, "\(other) \(v)")
        default:
            throw .badLayoutData(source: source, detail: "requirement on '\(field)' needs exactly one of equals and equals_field")
        }
        if actual != expected {
            throw .cannotExpress(layout: layout, family: config.family, reason: "\(field) \(actual) (needs \(shown)): \(reason)")
        }
    }
}
