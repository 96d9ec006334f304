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
    /// Position of each plain-valued key in `keys`, so setting a key again replaces its value
    /// in place as Python does.
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

    /// Sets `key` to `value`, replacing the value of an equal plain key.
    func set(_ key: PickleNode, _ value: PickleNode) {
        if case .leaf(let k) = key {
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
