extension PickleValue {
    /// The value under string key `key` of a dict, or the attribute `key` of an object whose
    /// state is a dict (`argparse.Namespace`); nil otherwise.
    public subscript(key: String) -> PickleValue? {
        switch self {
        case .dict(let entries):
            return entries.last { $0.key == .string(key) }?.value
        case .object(let o):
            if let s = o.state, case .dict = s { return s[key] }
            if let e = o.dictItems.last(where: { $0.key == .string(key) }) { return e.value }
            return nil
        default:
            return nil
        }
    }

    /// The integer (bools count as 0/1, as in Python).
    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The number as a Double (ints are converted).
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    /// The string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The bool (Python truthiness is not applied: only `True`/`False`).
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of a list or tuple.
    public var elements: [PickleValue]? {
        switch self {
        case .list(let v), .tuple(let v): return v
        default: return nil
        }
    }

    /// The entries of a dict.
    public var entries: [PickleDictEntry]? {
        if case .dict(let e) = self { return e }
        return nil
    }

    /// Whether this is `None`.
    public var isNone: Bool { self == .none }
}
