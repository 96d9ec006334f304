/// A container built by the pickle machine. Opcodes fill it after it is created and the memo
/// may share it, so it is a reference; `PickleMaterializer` turns it into a `PickleValue` once
/// the pickle has run.
final class PickleBox {
    /// What the container is.
    enum Kind: String {
        case list, tuple, dict, set
        case object = "object"
    }

    let kind: Kind
    /// Elements of a list, tuple or set; items appended to an object.
    var items: [PickleNode] = []
    /// Keys and values of a dict, or items set on an object, in insertion order.
    var keys: [PickleNode] = []
    var values: [PickleNode] = []
    /// Position of each small plain key in `keys`, so setting a key again replaces its value in
    /// place as Python does. Keys longer than `indexedKeyBytes` are not indexed (a repeated one
    /// is appended again): a long key re-used through the memo would otherwise be hashed in full
    /// at every SETITEM.
    var keyIndex: [PickleValue: Int] = [:]
    /// The class of an object.
    var type: PickleGlobal?
    /// Constructor arguments of an object.
    var args: [PickleNode] = []
    /// BUILD state of an object.
    var state: PickleNode?
    /// How the object was constructed.
    var construction: PickleConstruction = .reduce

    init(_ kind: Kind, items: [PickleNode] = []) {
        self.kind = kind
        self.items = items
    }

    /// A record of class `type`.
    init(object type: PickleGlobal, args: [PickleNode], construction: PickleConstruction) {
        self.kind = .object
        self.type = type
        self.args = args
        self.construction = construction
    }

    /// Drops every reference the box holds (breaking cycles once the pickle has run).
    func clear() {
        items = []
        keys = []
        values = []
        keyIndex = [:]
        args = []
        state = nil
    }

    /// Longest string, bytes or global name indexed as a dict key.
    static let indexedKeyBytes = 256

    /// Whether `k` is cheap enough to hash at every SETITEM.
    static func indexable(_ k: PickleValue) -> Bool {
        switch k {
        case .none, .bool, .int, .float: return true
        case .string(let s): return s.utf8.count <= indexedKeyBytes
        case .bytes(let b), .bigInt(let b): return b.count <= indexedKeyBytes
        case .global(let g): return g.module.utf8.count + g.name.utf8.count <= indexedKeyBytes
        case .tuple(let e): return e.count <= 16 && e.allSatisfy { if case .int = $0 { true } else { false } }
        default: return false
        }
    }

    /// Sets `key` to `value`, replacing the value of an equal plain key.
    func set(_ key: PickleNode, _ value: PickleNode) {
        if case .leaf(let k) = key, Self.indexable(k) {
            if let i = keyIndex[k] {
                values[i] = value
                return
            }
            keyIndex[k] = keys.count
        }
        keys.append(key)
        values.append(value)
    }
}
