/// A value on the pickle machine's stack or in its memo: an immutable value, or a container
/// that later opcodes may still fill (shared by reference, as Python objects are).
enum PickleNode {
    /// A finished value (numbers, strings, globals, storages, tensors ...).
    case leaf(PickleValue)
    /// A list, tuple, dict, set or object record, possibly shared through the memo.
    case box(PickleBox)

    /// The leaf value, if this is one.
    var leaf: PickleValue? {
        if case .leaf(let v) = self { return v }
        return nil
    }

    /// The box, if this is one.
    var box: PickleBox? {
        if case .box(let b) = self { return b }
        return nil
    }

    /// A short name of the kind, for messages.
    var kindName: String {
        switch self {
        case .box(let b): return b.kind.rawValue
        case .leaf(let v):
            switch v {
            case .none: return "None"
            case .bool: return "bool"
            case .int, .bigInt: return "int"
            case .float: return "float"
            case .string: return "str"
            case .bytes: return "bytes"
            case .list: return "list"
            case .tuple: return "tuple"
            case .dict: return "dict"
            case .set: return "set"
            case .global(let g): return "global \(g)"
            case .object(let o): return "\(o.type) object"
            case .tensor: return "tensor"
            case .storage: return "storage"
            }
        }
    }

    /// The elements of a tuple or list (box or leaf), or nil.
    var sequence: [PickleNode]? {
        switch self {
        case .box(let b) where b.kind == .tuple || b.kind == .list: return b.items
        case .leaf(.tuple(let v)), .leaf(.list(let v)): return v.map { .leaf($0) }
        default: return nil
        }
    }

    /// The integers of a tuple or list of ints (a shape or strides), or nil.
    var intSequence: [Int]? {
        guard let s = sequence else { return nil }
        var out: [Int] = []
        out.reserveCapacity(s.count)
        for e in s {
            guard case .leaf(.int(let v)) = e, let i = Int(exactly: v) else { return nil }
            out.append(i)
        }
        return out
    }
}
