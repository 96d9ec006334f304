import Containers
import Foundation

/// A lossless JSON form of the non-tensor part of a pickled Megatron state (the `args`
/// Namespace, `opt_param_scheduler`, `rng_state`, optimizer `param_groups` ...), so it can ride
/// in `CheckpointMetadata.userJSON` and be pickled again on export.
///
/// Plain JSON where the value is plain: `None` → `null`, bools, ints, strings, lists → arrays,
/// dicts whose keys are all strings not starting with `$` → objects (their order is not kept;
/// Python code never depends on it for these states). Everything else is a one-key object:
///
/// | value | JSON |
/// |---|---|
/// | float with an integral value, or not finite | `{"$float": "3.0"}` (other floats are plain numbers) |
/// | tuple | `{"$tuple": [...]}` |
/// | dict with other keys | `{"$dict": [[key, value], ...]}` |
/// | set | `{"$set": [...]}` |
/// | bytes | `{"$bytes": "<base64>"}` |
/// | int beyond 64 bits | `{"$bigint": "<base64 of little-endian two's complement>"}` |
/// | global (`torch.bfloat16`) | `{"$global": ["torch", "bfloat16"]}` |
/// | object (`AttnBackend(5)`, `io.BytesIO`, ...) | `{"$object": [module, name], "args": [...], "state": ..., "list": [...], "dict": [[k, v], ...], "new": true}` (`new` for NEWOBJ construction) |
/// | tensor (RNG states, TE extra state) | `{"$tensor": {"dtype": "uint8", "shape": [n], "data": "<base64>"}}` |
public enum PickleJSON {
    /// Tensors larger than this are not inlined (`encode` reports them through `dropped`).
    public static let maxInlineTensorBytes = 1 << 20

    /// A decoded value and the bytes of the tensors it holds: each tensor's storage key is
    /// `inline:<n>`, its bytes are `inline["inline:<n>"]` (a dense storage of exactly the
    /// tensor's elements).
    public struct Decoded: Sendable {
        /// The value.
        public var value: PickleValue
        /// Storage key → bytes.
        public var inline: [String: [UInt8]]
    }

    /// The JSON form of `value`. `tensorBytes` supplies a tensor's dense bytes (nil drops it:
    /// it becomes `None` and its description is appended to `dropped`).
    static func encode(
        _ value: PickleValue, tensorBytes: (TorchTensorRef) throws(ContainerError) -> [UInt8]?, dropped: inout [String]
    ) throws(ContainerError) -> JSONTree {
        switch value {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b): return tagged("$bigint", .string(Data(b).base64EncodedString()))
        case .float(let d):
            if d.isFinite && d != d.rounded(.towardZero) { return .double(d) }
            return tagged("$float", .string(floatText(d)))
        case .string(let s): return .string(s)
        case .bytes(let b): return tagged("$bytes", .string(Data(b).base64EncodedString()))
        case .list(let items):
            var out: [JSONTree] = []
            for i in items { out.append(try encode(i, tensorBytes: tensorBytes, dropped: &dropped)) }
            return .array(out)
        case .tuple(let items):
            var out: [JSONTree] = []
            for i in items { out.append(try encode(i, tensorBytes: tensorBytes, dropped: &dropped)) }
            return tagged("$tuple", .array(out))
        case .set(let items):
            var out: [JSONTree] = []
            for i in items { out.append(try encode(i, tensorBytes: tensorBytes, dropped: &dropped)) }
            return tagged("$set", .array(out))
        case .dict(let entries):
            return try encodeDict(entries, tensorBytes: tensorBytes, dropped: &dropped)
        case .global(let g):
            return tagged("$global", .array([.string(g.module), .string(g.name)]))
        case .object(let o):
            var members: [(String, JSONTree)] = [("$object", .array([.string(o.type.module), .string(o.type.name)]))]
            if !o.args.isEmpty {
                var a: [JSONTree] = []
                for v in o.args { a.append(try encode(v, tensorBytes: tensorBytes, dropped: &dropped)) }
                members.append(("args", .array(a)))
            }
            if let s = o.state { members.append(("state", try encode(s, tensorBytes: tensorBytes, dropped: &dropped))) }
            if !o.listItems.isEmpty {
                var a: [JSONTree] = []
                for v in o.listItems { a.append(try encode(v, tensorBytes: tensorBytes, dropped: &dropped)) }
                members.append(("list", .array(a)))
            }
            if !o.dictItems.isEmpty {
                members.append(("dict", try pairs(o.dictItems, tensorBytes: tensorBytes, dropped: &dropped)))
            }
            if o.construction == .newObject { members.append(("new", .bool(true))) }
            return .object(members)
        case .tensor(let t):
            guard let bytes = try tensorBytes(t) else {
                dropped.append("tensor \(t.dtypeName)\(t.shape)")
                return .null
            }
            return tagged(
                "$tensor",
                .object([
                    ("dtype", .string(t.dtypeName)), ("shape", .array(t.shape.map { .int(Int64($0)) })),
                    ("data", .string(Data(bytes).base64EncodedString())),
                ]))
        case .storage:
            dropped.append("bare storage")
            return .null
        }
    }

    /// Decodes the JSON form; `path` names the source for errors.
    static func decode(_ json: JSONTree, path: String) throws(ContainerError) -> Decoded {
        var inline: [String: [UInt8]] = [:]
        let v = try decode(json, path: path, inline: &inline, depth: 0)
        return Decoded(value: v, inline: inline)
    }

    private static func tagged(_ tag: String, _ v: JSONTree) -> JSONTree { .object([(tag, v)]) }

    private static func floatText(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return "\(d)"
    }

    private static func encodeDict(
        _ entries: [PickleDictEntry], tensorBytes: (TorchTensorRef) throws(ContainerError) -> [UInt8]?, dropped: inout [String]
    ) throws(ContainerError) -> JSONTree {
        let plain = entries.allSatisfy { if case .string(let k) = $0.key { return !k.hasPrefix("$") } else { return false } }
        let unique = Set(entries.map(\.key)).count == entries.count
        if plain && unique {
            var members: [(String, JSONTree)] = []
            for e in entries {
                guard case .string(let k) = e.key else { continue }
                members.append((k, try encode(e.value, tensorBytes: tensorBytes, dropped: &dropped)))
            }
            return .object(members)
        }
        return tagged("$dict", try pairs(entries, tensorBytes: tensorBytes, dropped: &dropped))
    }

    private static func pairs(
        _ entries: [PickleDictEntry], tensorBytes: (TorchTensorRef) throws(ContainerError) -> [UInt8]?, dropped: inout [String]
    ) throws(ContainerError) -> JSONTree {
        var out: [JSONTree] = []
        for e in entries {
            out.append(
                .array([
                    try encode(e.key, tensorBytes: tensorBytes, dropped: &dropped),
                    try encode(e.value, tensorBytes: tensorBytes, dropped: &dropped),
                ]))
        }
        return .array(out)
    }

    private static func decode(_ json: JSONTree, path: String, inline: inout [String: [UInt8]], depth: Int) throws(ContainerError) -> PickleValue {
        guard depth < 200 else { throw bad(path, "nesting deeper than 200") }
        switch json {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .float(d)
        case .string(let s): return .string(s)
        case .array(let items):
            var out: [PickleValue] = []
            for i in items { out.append(try decode(i, path: path, inline: &inline, depth: depth + 1)) }
            return .list(out)
        case .object(let members):
            if let (tag, _) = members.first, tag.hasPrefix("$") {
                return try decodeTagged(members, path: path, inline: &inline, depth: depth)
            }
            var entries: [PickleDictEntry] = []
            for (k, v) in members {
                entries.append(PickleDictEntry(key: .string(k), value: try decode(v, path: path, inline: &inline, depth: depth + 1)))
            }
            return .dict(entries)
        }
    }

    private static func decodeTagged(
        _ members: [(String, JSONTree)], path: String, inline: inout [String: [UInt8]], depth: Int
    ) throws(ContainerError) -> PickleValue {
        let m = Dictionary(members, uniquingKeysWith: { a, _ in a })
        func list(_ j: JSONTree?) throws(ContainerError) -> [PickleValue] {
            guard case .array(let items)? = j else { throw bad(path, "expected an array") }
            var out: [PickleValue] = []
            for i in items { out.append(try decode(i, path: path, inline: &inline, depth: depth + 1)) }
            return out
        }
        func entryPairs(_ j: JSONTree?) throws(ContainerError) -> [PickleDictEntry] {
            var out: [PickleDictEntry] = []
            for p in try list(j) {
                guard case .list(let kv) = p, kv.count == 2 else { throw bad(path, "a $dict entry is not a [key, value] pair") }
                out.append(PickleDictEntry(key: kv[0], value: kv[1]))
            }
            return out
        }
        func base64(_ j: JSONTree?) throws(ContainerError) -> [UInt8] {
            guard case .string(let s)? = j, let d = Data(base64Encoded: s) else { throw bad(path, "bad base64 data") }
            return [UInt8](d)
        }
        func global(_ j: JSONTree?) throws(ContainerError) -> PickleGlobal {
            guard case .array(let a)? = j, a.count == 2, case .string(let mod) = a[0], case .string(let name) = a[1] else {
                throw bad(path, "a global is not [module, name]")
            }
            return PickleGlobal(module: mod, name: name)
        }
        if m["$float"] != nil {
            guard case .string(let s)? = m["$float"] else { throw bad(path, "$float is not a string") }
            switch s {
            case "nan": return .float(.nan)
            case "inf": return .float(.infinity)
            case "-inf": return .float(-.infinity)
            default:
                guard let d = Double(s) else { throw bad(path, "$float '\(s)' is not a number") }
                return .float(d)
            }
        }
        if m["$tuple"] != nil { return .tuple(try list(m["$tuple"])) }
        if m["$set"] != nil { return .set(try list(m["$set"])) }
        if m["$dict"] != nil { return .dict(try entryPairs(m["$dict"])) }
        if m["$bytes"] != nil { return .bytes(try base64(m["$bytes"])) }
        if m["$bigint"] != nil { return .bigInt(try base64(m["$bigint"])) }
        if m["$global"] != nil { return .global(try global(m["$global"])) }
        if m["$object"] != nil {
            let state: PickleValue? = try m["state"].map { (j: JSONTree) throws(ContainerError) -> PickleValue in
                try decode(j, path: path, inline: &inline, depth: depth + 1)
            }
            return .object(
                PickleObject(
                    type: try global(m["$object"]), args: m["args"] == nil ? [] : try list(m["args"]), state: state,
                    listItems: m["list"] == nil ? [] : try list(m["list"]),
                    dictItems: m["dict"] == nil ? [] : try entryPairs(m["dict"]),
                    construction: m["new"] == .bool(true) ? .newObject : .reduce))
        }
        if case .object(let t)? = m["$tensor"] {
            let tm = Dictionary(t, uniquingKeysWith: { a, _ in a })
            guard case .string(let dtypeName)? = tm["dtype"], case .array(let dims)? = tm["shape"] else {
                throw bad(path, "a $tensor lacks dtype or shape")
            }
            var shape: [Int] = []
            for d in dims {
                guard case .int(let n) = d, n >= 0, n < 1 << 40 else { throw bad(path, "a $tensor dimension is not a size") }
                shape.append(Int(n))
            }
            let bytes = try base64(tm["data"])
            let key = "inline:\(inline.count)"
            inline[key] = bytes
            var strides = Array(repeating: 1, count: shape.count)
            var s = 1
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                strides[d] = s
                let (m, o) = s.multipliedReportingOverflow(by: shape[d])
                guard !o, m < 1 << 40 else { throw bad(path, "a $tensor has more than 2^40 elements") }
                s = m
            }
            let storage = TorchStorageRef(key: key, dtypeName: dtypeName, isUntyped: false, location: "cpu", count: s)
            return .tensor(
                TorchTensorRef(
                    storage: storage, dtypeName: dtypeName, storageOffset: 0, shape: shape, strides: strides, requiresGrad: false,
                    isParameter: false))
        }
        throw bad(path, "unknown tag \(members.first?.0 ?? "")")
    }

    private static func bad(_ path: String, _ detail: String) -> ContainerError {
        .malformed(path: path, detail: "megatron metadata JSON: \(detail)")
    }
}
