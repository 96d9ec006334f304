/// A parsed JSON value. Numbers keep their literal text, so integers beyond 2^53 and the exact
/// spelling of a float survive; objects keep their member order and never hold a key twice.
public indirect enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as its literal text (valid JSON grammar).
    case number(String)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object(JSONObject)

    /// A number holding `value`.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    /// A number holding `value` in its shortest round-trip spelling (`1e-05`, `10000.0`); nil for
    /// infinities and NaN, which JSON cannot hold.
    public static func double(_ value: Double) -> JSONValue? {
        guard value.isFinite else { return nil }
        return .number(value.description)
    }

    /// The integer this number spells exactly (no fraction, no exponent, within `Int`), or nil.
    public var intValue: Int? {
        guard case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(text)
    }

    /// The number as a `Double` (nil for other kinds or a literal outside Double's range).
    public var doubleValue: Double? {
        guard case .number(let text) = self, let d = Double(text), d.isFinite else { return nil }
        return d
    }

    /// The string, or nil for other kinds.
    public var stringValue: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }

    /// The boolean, or nil for other kinds.
    public var boolValue: Bool? {
        guard case .bool(let b) = self else { return nil }
        return b
    }

    /// The object, or nil for other kinds.
    public var objectValue: JSONObject? {
        guard case .object(let o) = self else { return nil }
        return o
    }

    /// The array, or nil for other kinds.
    public var arrayValue: [JSONValue]? {
        guard case .array(let a) = self else { return nil }
        return a
    }

    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// What kind of value this is, for messages (`a string`, `an object` ...).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "true or false"
        case .number: return intValue != nil ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses a whole document (leading and trailing JSON whitespace allowed, nothing else).
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .standard) throws(JSONParseError) -> JSONValue {
        var r = JSONReader(bytes, limits: limits)
        let v = try r.readValue(depth: 1)
        try r.finish()
        return v
    }

    /// Parses a whole document held in an array.
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .standard) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { b in
            do throws(JSONParseError) { return .success(try parse(b, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
