import CheckpointStore
import Containers
import Foundation

/// A condition a model must meet for a layout table to hold it, with the reason when it does
/// not: `{"field": "residual", "equals": "sequential", "reason": "..."}` in a rule set's
/// `requires` (`formats/layout-rules` in `formats/megatron-layout.md`).
///
/// `field` is a `model_config` key (`formats/checkpoint-v1.md`), compared with `equals` after
/// decoding; a model that differs is refused before any work with the reason, in one line
/// (`ShardingError.cannotExpress`), instead of being written in a form its readers would
/// compute differently.
public struct LayoutRequirement: Codable, Sendable, Hashable {
    /// The `model_config` key (`residual`, `rotary_pct`, ...).
    public var field: String
    /// The value the key must have.
    public var equals: Value
    /// Why the target cannot hold another value, for the error message.
    public var reason: String

    /// Creates a requirement.
    public init(field: String, equals: Value, reason: String) {
        self.field = field
        self.equals = equals
        self.reason = reason
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
    /// when `field` is not a model_config key).
    func check(_ config: ModelConfig, layout: String, source: String) throws(ShardingError) {
        guard let actual = Self.value(of: field, in: config) else {
            throw .badLayoutData(source: source, detail: "requirement on '\(field)', which is not a model_config key")
        }
        if actual != equals {
            throw .cannotExpress(layout: layout, family: config.family, reason: "\(field) \(actual) (needs \(equals)): \(reason)")
        }
    }
}
