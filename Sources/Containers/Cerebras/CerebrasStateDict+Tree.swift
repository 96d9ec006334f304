import CheckpointStore

extension CerebrasStateDict {
    /// A state dict being built: nested dicts, lists and tuples over leaf values, in order.
    public indirect enum Node: Sendable {
        /// A dict with string keys (`collections.OrderedDict` when `ordered`: a module's
        /// `state_dict()`).
        case dict([(String, Node)], ordered: Bool)
        /// A dict with integer keys (an optimizer's `state`).
        case intDict([(Int, Node)])
        /// A list (or a tuple).
        case list([Node], tuple: Bool)
        /// A leaf.
        case leaf(Value)

        /// A plain dict.
        public static func dict(_ members: [(String, Node)]) -> Node { .dict(members, ordered: false) }
    }

    /// The state dict of `root`: its pytree spec and its leaves under cstorch's flattened keys.
    public init(root: Node, cstorchVersion: String = "2.10.0") {
        var leaves: [Leaf] = []
        var scope: [String] = []
        let spec = Self.flatten(root, &scope, &leaves)
        self.init(spec: spec, leaves: leaves, cstorchVersion: cstorchVersion)
    }

    private static func flatten(_ n: Node, _ scope: inout [String], _ leaves: inout [Leaf]) -> PyTreeSpec {
        func child(_ name: String, _ c: Node) -> PyTreeSpec {
            scope.append(name)
            defer { scope.removeLast() }
            return flatten(c, &scope, &leaves)
        }
        switch n {
        case .leaf(let v):
            leaves.append(Leaf(scope.joined(separator: "."), v))
            return .leaf
        case .dict(let members, let ordered):
            return .dict(members.map { ($0.0, child($0.0, $0.1)) }, ordered: ordered)
        case .intDict(let members):
            return .intDict(members.map { ($0.0, child(String($0.0), $0.1)) })
        case .list(let items, let tuple):
            return .list(items.enumerated().map { child(String($0.offset), $0.element) }, tuple: tuple)
        }
    }
}
