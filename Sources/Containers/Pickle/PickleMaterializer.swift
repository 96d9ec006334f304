/// Turns the machine's nodes into `PickleValue`s once the pickle has run.
///
/// A box reached several times (shared through the memo) is converted once and its value
/// reused, so memory stays proportional to the pickle; its size still counts once per use
/// against `maxNodes`, so a memo bomb (a few bytes describing exponentially many values) is
/// refused instead of handed on. Nesting deeper than `maxDepth` and cycles are refused.
struct PickleMaterializer {
    let limits: PickleLimits
    let fail: (String) -> ContainerError
    private var done: [ObjectIdentifier: (value: PickleValue, size: Int)] = [:]
    private var active = Set<ObjectIdentifier>()

    init(limits: PickleLimits, fail: @escaping (String) -> ContainerError) {
        self.limits = limits
        self.fail = fail
    }

    /// The value of `node` and how many values it holds, counted with multiplicity.
    mutating func value(_ node: PickleNode, depth: Int = 0) throws(ContainerError) -> (value: PickleValue, size: Int) {
        switch node {
        case .leaf(let v):
            switch v {
            case .tuple(let e), .list(let e), .set(let e): return (v, 1 + e.count)
            default: return (v, 1)
            }
        case .box(let b):
            let id = ObjectIdentifier(b)
            if let d = done[id] { return d }
            guard depth < limits.maxDepth else { throw fail("values nested deeper than the limit of \(limits.maxDepth)") }
            guard active.insert(id).inserted else { throw fail("a \(b.kind.rawValue) contains itself (cyclic values are not read)") }
            var size = 1
            func add(_ n: Int) throws(ContainerError) {
                let (s, o) = size.addingReportingOverflow(n)
                guard !o, s <= limits.maxNodes else {
                    throw fail("the pickle expands to more than \(limits.maxNodes) values (values shared through the memo, re-used too often)")
                }
                size = s
            }
            func values(_ nodes: [PickleNode]) throws(ContainerError) -> [PickleValue] {
                var out: [PickleValue] = []
                out.reserveCapacity(nodes.count)
                for n in nodes {
                    let (v, s) = try value(n, depth: depth + 1)
                    try add(s)
                    out.append(v)
                }
                return out
            }
            func entries(_ keys: [PickleNode], _ vals: [PickleNode]) throws(ContainerError) -> [PickleDictEntry] {
                let k = try values(keys), v = try values(vals)
                return zip(k, v).map { PickleDictEntry(key: $0, value: $1) }
            }
            let result: PickleValue
            switch b.kind {
            case .list: result = .list(try values(b.items))
            case .tuple: result = .tuple(try values(b.items))
            case .set: result = .set(try values(b.items))
            case .dict: result = .dict(try entries(b.keys, b.values))
            case .object:
                var state: PickleValue?
                if let s = b.state {
                    let (v, n) = try value(s, depth: depth + 1)
                    try add(n)
                    state = v
                }
                let o = PickleObject(
                    type: b.type ?? PickleGlobal(module: "", name: ""), args: try values(b.args), state: state,
                    listItems: try values(b.items), dictItems: try entries(b.keys, b.values), construction: b.construction)
                result = .object(o)
            }
            active.remove(id)
            done[id] = (result, size)
            return (result, size)
        }
    }
}
