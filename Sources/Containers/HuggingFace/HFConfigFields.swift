import CheckpointStore

/// The members of a config.json being mapped: typed accessors that say which member is wrong
/// and how, and a record of the members used, so every other member can be judged.
struct HFConfigFields {
    let object: JSONObject
    let path: String
    /// Members read by the mapping.
    private(set) var used = Set<String>()
    /// Members absent whose transformers default was assumed (`rms_norm_eps=1e-06`).
    var assumed: [String] = []

    init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
    }

    /// An error about member `key`.
    func bad(_ key: String, _ detail: String) -> ContainerError {
        .malformed(path: path, detail: "\(key): \(detail)")
    }

    /// The raw value of `key` (marked used), nil when absent.
    mutating func value(_ key: String) -> JSONValue? {
        used.insert(key)
        return object[key]
    }

    /// Marks `key` as read without reading it.
    mutating func use(_ key: String) { used.insert(key) }

    /// A positive integer that must be present.
    mutating func requiredSize(_ key: String) throws(ContainerError) -> Int {
        guard let v = value(key) else { throw bad(key, "missing (ckpt needs it to know the tensors' shapes)") }
        guard let i = v.intValue, i > 0 else { throw bad(key, "expected a positive integer, found \(describe(v))") }
        return i
    }

    /// A positive integer, nil when absent or null.
    mutating func optionalSize(_ key: String) throws(ContainerError) -> Int? {
        guard let v = value(key), !v.isNull else { return nil }
        guard let i = v.intValue, i > 0 else { throw bad(key, "expected a positive integer or null, found \(describe(v))") }
        return i
    }

    /// A number (integers allowed), or `fallback` when absent (recorded as assumed).
    mutating func number(_ key: String, default fallback: Double) throws(ContainerError) -> Double {
        guard let v = value(key) else {
            assumed.append("\(key)=\(fallback)")
            return fallback
        }
        guard let d = v.doubleValue else { throw bad(key, "expected a number, found \(describe(v))") }
        return d
    }

    /// A number, nil when absent.
    mutating func optionalNumber(_ key: String) throws(ContainerError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue else { throw bad(key, "expected a number, found \(describe(v))") }
        return d
    }

    /// A boolean, or `fallback` when absent (recorded as assumed).
    mutating func bool(_ key: String, default fallback: Bool) throws(ContainerError) -> Bool {
        guard let v = value(key) else {
            assumed.append("\(key)=\(fallback)")
            return fallback
        }
        guard let b = v.boolValue else { throw bad(key, "expected true or false, found \(describe(v))") }
        return b
    }

    /// A string, or `fallback` when absent (recorded as assumed).
    mutating func string(_ key: String, default fallback: String) throws(ContainerError) -> String {
        guard let v = value(key) else {
            assumed.append("\(key)=\(fallback)")
            return fallback
        }
        guard let s = v.stringValue else { throw bad(key, "expected a string, found \(describe(v))") }
        return s
    }

    /// Requires that `key`, when present, equals `expected` (a setting ckpt's model cannot
    /// express otherwise).
    mutating func require(_ key: String, is expected: Bool, because reason: String) throws(ContainerError) {
        guard let v = value(key), !v.isNull else { return }
        guard let b = v.boolValue else { throw bad(key, "expected true or false, found \(describe(v))") }
        if b != expected { throw .unsupported(path: path, detail: "\(key) = \(b): \(reason)") }
    }

    /// The keys not used by the mapping, in document order.
    var unused: [String] { object.keys.filter { !used.contains($0) } }

    /// A value for a message: its kind, and its text when short.
    func describe(_ v: JSONValue) -> String {
        switch v {
        case .number(let t): return v.intValue != nil ? "the integer \(t)" : "the number \(t)"
        case .string(let s): return "the string " + JSONReader.quote(s)
        case .bool(let b): return "\(b)"
        default: return v.kindDescription
        }
    }
}
