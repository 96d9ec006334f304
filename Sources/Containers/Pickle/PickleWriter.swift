/// Encodes a `PickleValue` as a protocol 2 pickle the way `torch.save` writes one, so that
/// `torch.load(weights_only=True)` reads it back:
///
/// - `dict` → EMPTY_DICT + SETITEMS; `.object` of `collections.OrderedDict` (`.reduce`, no
///   args) → `OrderedDict()` REDUCE + SETITEMS of its `dictItems` (+ BUILD of its state);
/// - `bytes` → `_codecs.encode(latin-1 text, 'latin1')`, as protocol 2 does (also when empty);
/// - `set` → `set([...])`; ints → BININT1/BININT2/BININT, else LONG1; floats → BINFLOAT;
/// - tensors → BINPERSID of `('storage', class, key, location, count)` and
///   `torch._utils._rebuild_tensor_v2` (typed storages) or `_rebuild_tensor_v3` (untyped)
///   with an empty `OrderedDict` of hooks; parameters wrapped in `_rebuild_parameter`;
/// - other objects → GLOBAL + args + REDUCE or NEWOBJ (their `construction`), then
///   APPENDS / SETITEMS of their items and BUILD of their state.
/// No memo is written. Builtins are spelled `__builtin__`, as Python's protocol 2 pickler does.
public struct PickleWriter {
    private var out: [UInt8] = [0x80, 2]
    private let path: String

    private init(path: String) { self.path = path }

    /// The pickle of `value`; `path` names the output in errors (a global whose name contains
    /// a newline, a tensor whose storage type torch has no class for).
    public static func encode(_ value: PickleValue, path: String) throws(ContainerError) -> [UInt8] {
        var w = PickleWriter(path: path)
        try w.write(value)
        w.op(.stop)
        return w.out
    }

    private mutating func op(_ o: PickleOpcode) { out.append(o.rawValue) }

    private mutating func write(_ v: PickleValue) throws(ContainerError) {
        switch v {
        case .none: op(.none)
        case .bool(let b): op(b ? .newTrue : .newFalse)
        case .int(let i): int(i)
        case .bigInt(let b): long(PickleIntegers.minimal(b))
        case .float(let d):
            op(.binFloat)
            let bits = d.bitPattern
            for k in stride(from: 56, through: 0, by: -8) { out.append(UInt8((bits >> UInt64(k)) & 0xFF)) }
        case .string(let s): string(s)
        case .bytes(let b):
            // Python writes empty bytes as `bytes()`, which weights_only refuses; the encode
            // form of an empty string loads everywhere.
            try global(PickleGlobal(module: "_codecs", name: "encode"))
            var text = String.UnicodeScalarView()
            for x in b { text.append(Unicode.Scalar(x)) }
            string(String(text))
            string("latin1")
            op(.tuple2)
            op(.reduce)
        case .list(let items):
            op(.emptyList)
            try batched(items.map { [$0] }, .appends)
        case .tuple(let items):
            switch items.count {
            case 0: op(.emptyTuple)
            case 1...3:
                for e in items { try write(e) }
                out.append(PickleOpcode.tuple1.rawValue + UInt8(items.count - 1))
            default:
                op(.mark)
                for e in items { try write(e) }
                op(.tuple)
            }
        case .dict(let entries):
            op(.emptyDict)
            try batched(entries.map { [$0.key, $0.value] }, .setItems)
        case .set(let items):
            try global(PickleGlobal(module: "builtins", name: "set"))
            op(.emptyList)
            try batched(items.map { [$0] }, .appends)
            op(.tuple1)
            op(.reduce)
        case .global(let g): try global(g)
        case .object(let o): try object(o)
        case .tensor(let t): try tensor(t)
        case .storage(let s): try storage(s)
        }
    }

    private mutating func int(_ i: Int64) {
        if i >= 0 && i < 256 {
            op(.binInt1)
            out.append(UInt8(i))
        } else if i >= 0 && i < 65536 {
            op(.binInt2)
            out.le16(UInt16(i))
        } else if let v = Int32(exactly: i) {
            op(.binInt)
            out.le32(UInt32(bitPattern: v))
        } else {
            long(PickleIntegers.bytes(i))
        }
    }

    private mutating func long(_ b: [UInt8]) {
        if b.count < 256 {
            op(.long1)
            out.append(UInt8(b.count))
        } else {
            op(.long4)
            out.le32(UInt32(b.count))
        }
        out.append(contentsOf: b)
    }

    private mutating func string(_ s: String) {
        op(.binUnicode)
        out.le32(UInt32(s.utf8.count))
        out.append(contentsOf: s.utf8)
    }

    private mutating func global(_ g: PickleGlobal) throws(ContainerError) {
        guard !g.module.isEmpty, !g.name.isEmpty, !g.module.contains("\n"), !g.name.contains("\n") else {
            throw .malformed(path: path, detail: "cannot pickle the global \(g.description.debugDescription)")
        }
        op(.global)
        out.append(contentsOf: (g.module == "builtins" ? "__builtin__" : g.module).utf8)
        out.append(0x0A)
        out.append(contentsOf: g.name.utf8)
        out.append(0x0A)
    }

    /// MARK ... `opcode` in batches of 1000 groups, as Python writes APPENDS and SETITEMS.
    private mutating func batched(_ groups: [[PickleValue]], _ opcode: PickleOpcode) throws(ContainerError) {
        var i = 0
        while i < groups.count {
            op(.mark)
            for g in groups[i..<min(groups.count, i + 1000)] {
                for v in g { try write(v) }
            }
            op(opcode)
            i += 1000
        }
    }

    private mutating func object(_ o: PickleObject) throws(ContainerError) {
        try global(o.type)
        try write(.tuple(o.args))
        op(o.construction == .reduce ? .reduce : .newObj)
        if !o.listItems.isEmpty { try batched(o.listItems.map { [$0] }, .appends) }
        if !o.dictItems.isEmpty { try batched(o.dictItems.map { [$0.key, $0.value] }, .setItems) }
        if let s = o.state {
            try write(s)
            op(.build)
        }
    }

    private mutating func storage(_ s: TorchStorageRef) throws(ContainerError) {
        let cls: PickleGlobal
        if s.isUntyped {
            cls = PickleGlobal(module: "torch.storage", name: "UntypedStorage")
        } else if let c = TorchStorageType.legacyClass(for: s.dtypeName) {
            cls = PickleGlobal(module: "torch", name: c)
        } else {
            throw .malformed(path: path, detail: "storage \(s.key): torch has no typed storage class for dtype \(s.dtypeName)")
        }
        op(.mark)
        string("storage")
        try global(cls)
        string(s.key)
        string(s.location)
        int(Int64(s.count))
        op(.tuple)
        op(.binPersID)
    }

    private mutating func tensor(_ t: TorchTensorRef) throws(ContainerError) {
        let hooks = PickleValue.object(PickleObject(type: PickleGlobal(module: "collections", name: "OrderedDict")))
        if t.isParameter {
            try global(PickleGlobal(module: "torch._utils", name: "_rebuild_parameter"))
            op(.mark)
            var inner = t
            inner.isParameter = false
            inner.requiresGrad = false
            try tensor(inner)
            try write(.bool(t.requiresGrad))
            try write(hooks)
            op(.tuple)
            op(.reduce)
            return
        }
        let v3 = t.storage.isUntyped
        try global(PickleGlobal(module: "torch._utils", name: v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2"))
        op(.mark)
        try storage(t.storage)
        int(Int64(t.storageOffset))
        try write(.tuple(t.shape.map { .int(Int64($0)) }))
        try write(.tuple(t.strides.map { .int(Int64($0)) }))
        try write(.bool(t.requiresGrad))
        try write(hooks)
        if v3 { try global(PickleGlobal(module: "torch", name: t.dtypeName)) }
        op(.tuple)
        op(.reduce)
    }
}
