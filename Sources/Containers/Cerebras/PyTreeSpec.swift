/// A torch pytree `TreeSpec` as `torch.utils._pytree.treespec_dumps` serialises it (protocol
/// 1): `[1, {"type": ..., "context": ..., "children_spec": [...]}]`, where a leaf is
/// `{"type": null, "context": null, "children_spec": []}` and a node's context is itself JSON
/// text (`json.dumps` of the dict's keys, `"null"` for lists and tuples). cstorch's `.mdl` stores
/// one for the whole state dict (`__spec__`) and one per leaf.
///
/// Parsing is bounded (depth, node count) and executes nothing; `dumps()` reproduces torch's text
/// byte for byte for the node types ckpt writes.
public struct PyTreeSpec: Sendable, Hashable {
    /// The serialised type name (`builtins.dict`, `collections.OrderedDict`, `builtins.list`,
    /// `builtins.tuple`, `builtins.set`, ...), nil for a leaf.
    public var type: String?
    /// The context as JSON text (nil for a leaf).
    public var context: String?
    /// The children, in order.
    public var children: [PyTreeSpec]

    /// The deepest nesting and the most nodes `parse` accepts.
    public static let maxDepth = 48
    /// The most nodes `parse` accepts.
    public static let maxNodes = 4_000_000

    /// A leaf.
    public static let leaf = PyTreeSpec(type: nil, context: nil, children: [])

    /// Creates a node.
    public init(type: String?, context: String?, children: [PyTreeSpec]) {
        self.type = type
        self.context = context
        self.children = children
    }

    /// A `builtins.dict` (or `collections.OrderedDict` when `ordered`) node with string keys.
    public static func dict(_ members: [(String, PyTreeSpec)], ordered: Bool = false) -> PyTreeSpec {
        PyTreeSpec(
            type: ordered ? "collections.OrderedDict" : "builtins.dict",
            context: JSONText.python(.array(members.map { .string($0.0) })), children: members.map(\.1))
    }

    /// A `builtins.dict` node with integer keys (an optimizer's `state`).
    public static func intDict(_ members: [(Int, PyTreeSpec)]) -> PyTreeSpec {
        PyTreeSpec(type: "builtins.dict", context: JSONText.python(.array(members.map { .int($0.0) })), children: members.map(\.1))
    }

    /// A `builtins.list` (or `builtins.tuple`) node.
    public static func list(_ items: [PyTreeSpec], tuple: Bool = false) -> PyTreeSpec {
        PyTreeSpec(type: tuple ? "builtins.tuple" : "builtins.list", context: "null", children: items)
    }

    /// Whether this is a leaf.
    public var isLeaf: Bool { type == nil && context == nil && children.isEmpty }

    /// Number of leaves below (and including) this node.
    public var leafCount: Int { isLeaf ? 1 : children.reduce(0) { $0 + $1.leafCount } }

    /// torch's `treespec_dumps` text of this spec.
    public func dumps() -> String { JSONText.python(.array([.int(1), json])) }

    /// The node as its protocol-1 JSON object.
    var json: JSONValue {
        var o = JSONObject()
        o.insert("type", type.map { .string($0) } ?? .null)
        o.insert("context", context.map { .string($0) } ?? .null)
        o.insert("children_spec", .array(children.map(\.json)))
        return .object(o)
    }

    /// Parses `treespec_dumps` text; the error says what is wrong.
    public static func parse(_ text: String) -> Result<PyTreeSpec, PyTreeSpecError> {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(text.utf8), limits: JSONLimits(maxDepth: 2 * maxDepth + 4)) } catch {
            return .failure(PyTreeSpecError(message: "not JSON: \(error)"))
        }
        guard let top = value.arrayValue, top.count == 2 else { return .failure(PyTreeSpecError(message: "not [protocol, spec]")) }
        guard top[0].intValue == 1 else { return .failure(PyTreeSpecError(message: "protocol \(JSONText.compact(top[0])) (ckpt reads protocol 1)")) }
        var nodes = 0
        return node(top[1], depth: 1, nodes: &nodes)
    }

    private static func node(_ v: JSONValue, depth: Int, nodes: inout Int) -> Result<PyTreeSpec, PyTreeSpecError> {
        nodes += 1
        guard nodes <= maxNodes else { return .failure(PyTreeSpecError(message: "more than \(maxNodes) nodes")) }
        guard depth <= maxDepth else { return .failure(PyTreeSpecError(message: "nested deeper than \(maxDepth)")) }
        guard let o = v.objectValue, let type = o["type"], let context = o["context"], let children = o["children_spec"]?.arrayValue,
            o.count == 3
        else { return .failure(PyTreeSpecError(message: "a node is not {type, context, children_spec}")) }
        guard type.isNull || type.stringValue != nil, context.isNull || context.stringValue != nil else {
            return .failure(PyTreeSpecError(message: "a node's type or context is not a string or null"))
        }
        var out: [PyTreeSpec] = []
        out.reserveCapacity(children.count)
        for c in children {
            switch node(c, depth: depth + 1, nodes: &nodes) {
            case .success(let n): out.append(n)
            case .failure(let e): return .failure(e)
            }
        }
        let spec = PyTreeSpec(type: type.stringValue, context: context.stringValue, children: out)
        if spec.type == nil && !(spec.context == nil && out.isEmpty) {
            return .failure(PyTreeSpecError(message: "a node without a type has a context or children"))
        }
        return .success(spec)
    }

    /// The flattened key of every leaf, in leaf order, as cstorch names them
    /// (`cstorch.utils.nest.recurse_spec` joined with `.`): a dict's keys as Python's `str()`
    /// of each key, indices for lists, tuples, sets and named tuples; subtrees without leaves
    /// contribute nothing.
    public func leafKeys() -> Result<[String], PyTreeSpecError> {
        var out: [String] = []
        var scope: [String] = []
        if let e = collect(&out, &scope) { return .failure(e) }
        return .success(out)
    }

    private func collect(_ out: inout [String], _ scope: inout [String]) -> PyTreeSpecError? {
        if isLeaf {
            out.append(scope.joined(separator: "."))
            return nil
        }
        if leafCount == 0 { return nil }
        let names: [String]
        switch type {
        case "builtins.dict", "collections.OrderedDict":
            guard let keys = dictKeys(), keys.count == children.count else {
                return PyTreeSpecError(message: "a \(type ?? "") node's context does not list one key per child")
            }
            names = keys
        case "builtins.list", "builtins.tuple", "builtins.set", "collections.namedtuple":
            names = children.indices.map(String.init)
        default:
            return PyTreeSpecError(message: "node type \(type ?? "null") is not supported")
        }
        for (name, child) in zip(names, children) {
            scope.append(name)
            defer { scope.removeLast() }
            if let e = child.collect(&out, &scope) { return e }
        }
        return nil
    }

    /// A dict node's keys as Python's `str()` of each, or nil when the context is not a JSON
    /// list of strings, integers, booleans or nulls.
    public func dictKeys() -> [String]? {
        guard let context, let v = try? JSONValue.parse(Array(context.utf8)), let items = v.arrayValue else { return nil }
        var out: [String] = []
        for item in items {
            switch item {
            case .string(let s): out.append(s)
            case .bool(let b): out.append(b ? "True" : "False")
            case .null: out.append("None")
            case .number:
                guard let i = item.intValue else { return nil }
                out.append(String(i))
            default: return nil
            }
        }
        return out
    }
}
