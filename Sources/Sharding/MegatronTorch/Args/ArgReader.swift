import Containers

/// Typed access to the attributes of a Megatron `args` Namespace; a value of the wrong type is a
/// one-line error naming the argument. `None` counts as absent.
struct ArgReader {
    let entries: [PickleDictEntry]
    let path: String

    func value(_ name: String) -> PickleValue? {
        entries.last { $0.key == .string(name) }?.value
    }

    /// An integer argument (nil when absent or None); below `atLeast` is an error.
    func int(_ name: String, atLeast minimum: Int) throws(ContainerError) -> Int? {
        guard let v = value(name), v != .none else { return nil }
        guard case .int(let i) = v, i >= Int64(minimum), i <= Int64(Int32.max) * 1024 else {
            throw .unsupported(path: path, detail: "args.\(name) = \(Self.show(v)) is not an integer >= \(minimum)")
        }
        return Int(i)
    }

    func requiredInt(_ name: String, atLeast minimum: Int) throws(ContainerError) -> Int {
        guard let i = try int(name, atLeast: minimum) else {
            throw .malformed(path: path, detail: "args has no \(name)")
        }
        return i
    }

    /// A boolean argument; absent or None is false.
    func flag(_ name: String) throws(ContainerError) -> Bool {
        guard let v = value(name), v != .none else { return false }
        guard case .bool(let b) = v else {
            throw .unsupported(path: path, detail: "args.\(name) = \(Self.show(v)) is not a bool")
        }
        return b
    }

    /// A number argument (ints accepted).
    func double(_ name: String) throws(ContainerError) -> Double? {
        guard let v = value(name), v != .none else { return nil }
        switch v {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: throw .unsupported(path: path, detail: "args.\(name) = \(Self.show(v)) is not a number")
        }
    }

    /// A string argument.
    func string(_ name: String) throws(ContainerError) -> String? {
        guard let v = value(name), v != .none else { return nil }
        guard case .string(let s) = v else {
            throw .unsupported(path: path, detail: "args.\(name) = \(Self.show(v)) is not a string")
        }
        return s
    }

    /// A short Python-like rendering of a value, for messages.
    static func show(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return "\(d)"
        case .string(let s): return "'\(s.prefix(60))'"
        case .global(let g): return g.description
        case .object(let o): return o.type.name + "(...)"
        case .list(let l): return "[\(l.count) items]"
        case .tuple(let l): return "(\(l.count) items)"
        case .dict(let d): return "{\(d.count) items}"
        default: return "a value"
        }
    }
}
