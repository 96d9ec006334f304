import CheckpointStore

/// What a cstorch `.mdl` file holds, as `CerebrasMDLWriter` writes it: the state dict's pytree
/// spec and each leaf's value in leaf order — a tensor of the writer's manifest, a small tensor
/// carried by value, a Python scalar, string, `None`, a link to another leaf or pickled bytes.
///
/// Its JSON form (`json`, `init(json:)`) is how ckpt carries a `.mdl` file's non-tensor state
/// through other formats (`CheckpointMetadata.userJSON`, key `cerebras`), so an export
/// rebuilds the same state dict.
public struct CerebrasStateDict: Sendable, Equatable {
    /// One leaf's value.
    public enum Value: Sendable, Equatable {
        /// The tensor the writer receives under this key.
        case tensor(TensorKey)
        /// A tensor carried by value (little-endian bytes).
        case data(dtype: DType, shape: [Int], bytes: [UInt8])
        /// A bool or number (`ScalarSerializer`).
        case scalar(JSONValue)
        /// A string.
        case string(String)
        /// `None`.
        case none
        /// The value of another leaf (`LinkedObject`).
        case linked(String)
        /// dill-pickled bytes (`ObjectSerializer`), written back unchanged.
        case object([UInt8])
    }

    /// One leaf.
    public struct Leaf: Sendable, Equatable {
        /// Flattened key.
        public var key: String
        /// Value.
        public var value: Value

        /// Creates a leaf.
        public init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// The pytree spec (`__spec__`'s treespec).
    public var spec: PyTreeSpec
    /// The leaves, in the spec's leaf order.
    public var leaves: [Leaf]
    /// `__cstorch_version__` to record.
    public var cstorchVersion: String

    /// Creates a state dict; `check()` validates it.
    public init(spec: PyTreeSpec, leaves: [Leaf], cstorchVersion: String = "2.10.0") {
        self.spec = spec
        self.leaves = leaves
        self.cstorchVersion = cstorchVersion
    }

    /// The tensors the writer must receive, each once, in leaf order.
    public var tensorKeys: [TensorKey] {
        leaves.compactMap { if case .tensor(let k) = $0.value { return k } else { return nil } }
    }

    /// A problem that makes this state dict unwritable: leaf keys that are not the spec's, a
    /// tensor used twice, a link to nothing.
    public func problem() -> String? {
        guard case .success(let keys) = spec.leafKeys() else { return "its pytree spec cannot be flattened" }
        guard keys == leaves.map(\.key) else { return "its leaves are not the pytree spec's (\(keys.count) in the spec, \(leaves.count) given)" }
        let t = tensorKeys
        if Set(t).count != t.count { return "a tensor is used by two leaves" }
        let all = Set(keys)
        for l in leaves {
            if case .linked(let target) = l.value, !all.contains(target) || target == l.key {
                return "leaf \(l.key) links to \(target), which is no other leaf"
            }
            if case .data(let d, let s, let b) = l.value, s.reduce(d.size, *) != b.count {
                return "leaf \(l.key) has \(b.count) bytes for \(s) of \(d.rawValue)"
            }
        }
        return nil
    }

    /// The first element of `__spec__`: the structure with `"*"` for every leaf, as Python's
    /// `json.dumps` gives it, or null where that fails in Python (a set, a key JSON cannot hold).
    public var structure: JSONValue { Self.structure(spec) ?? .null }

    private static func structure(_ s: PyTreeSpec) -> JSONValue? {
        if s.isLeaf { return .string("*") }
        switch s.type {
        case "builtins.dict", "collections.OrderedDict":
            guard let context = s.context, let v = try? JSONValue.parse(Array(context.utf8)), let keys = v.arrayValue, keys.count == s.children.count
            else { return nil }
            var o = JSONObject()
            for (k, c) in zip(keys, s.children) {
                let name: String
                switch k {
                case .string(let t): name = t
                case .bool(let b): name = b ? "true" : "false"
                case .null: name = "null"
                case .number: guard let i = k.intValue else { return nil }; name = String(i)
                default: return nil
                }
                guard let cv = structure(c) else { return nil }
                // json.dumps keeps the last of keys that collide once converted (1 and "1").
                if o[name] != nil { return nil }
                o.insert(name, cv)
            }
            return .object(o)
        case "builtins.list", "builtins.tuple", "collections.namedtuple":
            var items: [JSONValue] = []
            for c in s.children {
                guard let cv = structure(c) else { return nil }
                items.append(cv)
            }
            return .array(items)
        default:
            return nil
        }
    }
}
