/// The restricted pickle virtual machine: runs the opcodes of protocols 0-5 over a byte array,
/// building data only. Globals are names (`PickleGlobalPolicy` decides which may appear and
/// which may be called), calls are constructions ckpt performs itself (`+Calls`), persistent
/// ids are `torch.save` storages (`+Torch`). Every length, count and depth is bounded by
/// `PickleLimits`; no input makes it trap.
final class PickleMachine {
    let bytes: [UInt8]
    /// The file and the pickle inside it, for messages.
    let path: String
    let entry: String
    let limits: PickleLimits
    /// The next byte to read, and where the current opcode started.
    var position = 0
    var opcodeStart = 0
    var stack: [PickleNode] = []
    /// Stack heights at each open MARK.
    var marks: [Int] = []
    var memo: [Int: PickleNode] = [:]
    /// Values pushed so far (bounded by `maxNodes`).
    var pushed = 0
    /// Every box made, so `run` can break the reference cycles a pickle may build (a list
    /// appended to itself) whether it succeeds or fails.
    var boxes: [PickleBox] = []

    init(bytes: [UInt8], path: String, entry: String, limits: PickleLimits) {
        self.bytes = bytes
        self.path = path
        self.entry = entry
        self.limits = limits
    }

    // MARK: errors

    func malformed(_ detail: String) -> ContainerError {
        .malformed(path: path, detail: "pickle \(entry), byte \(opcodeStart): \(detail)")
    }

    func refused(_ detail: String) -> ContainerError {
        .refused(path: path, detail: "\(detail), at byte \(opcodeStart) of pickle \(entry)")
    }

    func unsupported(_ detail: String) -> ContainerError {
        .unsupported(path: path, detail: "\(detail), at byte \(opcodeStart) of pickle \(entry)")
    }

    // MARK: input

    var remaining: Int { bytes.count - position }

    func take(_ count: Int) throws(ContainerError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw malformed("the pickle ends inside an opcode (\(count) bytes needed, \(remaining) left)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    func byte() throws(ContainerError) -> UInt8 {
        guard position < bytes.count else { throw malformed("the pickle ends before its STOP opcode") }
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned little-endian integer of `width` bytes.
    func unsigned(_ width: Int) throws(ContainerError) -> UInt64 {
        let s = try take(width)
        var v: UInt64 = 0
        for (i, b) in s.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    /// The bytes of a string whose length precedes it in `width` bytes.
    func counted(_ width: Int, signed: Bool = false) throws(ContainerError) -> ArraySlice<UInt8> {
        let raw = try unsigned(width)
        if signed && raw & 0x8000_0000 != 0 { throw malformed("negative length") }
        guard raw <= UInt64(limits.maxStringBytes) else {
            throw malformed("a \(raw)-byte value exceeds the limit of \(limits.maxStringBytes) bytes")
        }
        guard raw <= UInt64(remaining) else {
            throw malformed("a \(raw)-byte value runs past the end of the pickle (\(remaining) bytes left)")
        }
        return try take(Int(raw))
    }

    /// The text up to the next newline (not included), at most `max` bytes.
    func line(max: Int) throws(ContainerError) -> ArraySlice<UInt8> {
        let end = min(bytes.count, position + max + 1)
        var i = position
        while i < end && bytes[i] != 0x0A { i += 1 }
        guard i < end else {
            throw malformed(i >= bytes.count ? "the pickle ends inside a text line" : "a text line longer than the limit of \(max) bytes")
        }
        defer { position = i + 1 }
        return bytes[position..<i]
    }

    func utf8(_ s: ArraySlice<UInt8>) throws(ContainerError) -> String {
        guard let v = String(validating: s, as: UTF8.self) else { throw malformed("a string that is not valid UTF-8") }
        return v
    }

    /// Breaks every reference between boxes and drops the stack and memo.
    func release() {
        for b in boxes { b.clear() }
        boxes = []
        stack = []
        memo = [:]
    }

    /// Registers a new box.
    func made(_ b: PickleBox) -> PickleBox {
        boxes.append(b)
        return b
    }

    // MARK: stack

    func push(_ node: PickleNode) throws(ContainerError) {
        pushed += 1
        guard pushed <= limits.maxNodes else { throw malformed("more than \(limits.maxNodes) values") }
        stack.append(node)
    }

    func push(_ value: PickleValue) throws(ContainerError) { try push(.leaf(value)) }

    /// The height below which the current MARK segment does not reach.
    var floor: Int { marks.last ?? 0 }

    func pop() throws(ContainerError) -> PickleNode {
        guard stack.count > floor else { throw malformed("stack underflow") }
        return stack.removeLast()
    }

    func top() throws(ContainerError) -> PickleNode {
        guard stack.count > floor, let t = stack.last else { throw malformed("stack underflow") }
        return t
    }

    /// The values pushed since the last MARK, which is removed.
    func popToMark() throws(ContainerError) -> [PickleNode] {
        guard let m = marks.popLast() else { throw malformed("no MARK to pop to") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    func memoize(_ key: Int) throws(ContainerError) {
        let t = try top()
        if memo[key] == nil && memo.count >= limits.maxMemoEntries {
            throw malformed("more than \(limits.maxMemoEntries) memo entries")
        }
        memo[key] = t
    }

    func recall(_ key: Int) throws(ContainerError) -> PickleNode {
        guard let v = memo[key] else { throw malformed("memo entry \(key) read before it was written") }
        return v
    }

    // MARK: the loop

    /// Runs the pickle to its STOP and returns the value it leaves on the stack.
    func run() throws(ContainerError) -> PickleValue {
        defer { release() }
        while true {
            opcodeStart = position
            let b = try byte()
            guard let op = PickleOpcode(rawValue: b) else {
                throw malformed("unknown opcode 0x\(String(b, radix: 16, uppercase: true))")
            }
            if op == .stop {
                let result = try pop()
                var m = PickleMaterializer(limits: limits) { [path, entry] detail in
                    .malformed(path: path, detail: "pickle \(entry): \(detail)")
                }
                return try m.value(result).value
            }
            try execute(op)
        }
    }

    func execute(_ op: PickleOpcode) throws(ContainerError) {
        switch op {
        case .proto:
            let v = try byte()
            guard v <= 5 else { throw unsupported("pickle protocol \(v)") }
        case .frame:
            let n = try unsigned(8)
            guard n <= UInt64(remaining) else { throw malformed("a frame of \(n) bytes runs past the end of the pickle") }
        case .stop: break
        case .mark:
            guard marks.count < limits.maxDepth else { throw malformed("more than \(limits.maxDepth) nested MARKs") }
            marks.append(stack.count)
        case .pop:
            if stack.count > floor { stack.removeLast() } else { _ = try popToMark() }
        case .popMark: _ = try popToMark()
        case .dup: try push(try top())

        case .none: try push(.none)
        case .newTrue: try push(.bool(true))
        case .newFalse: try push(.bool(false))
        case .binInt: try push(.int(Int64(Int32(bitPattern: UInt32(try unsigned(4))))))
        case .binInt1: try push(.int(Int64(try byte())))
        case .binInt2: try push(.int(Int64(try unsigned(2))))
        case .long1: try push(PickleIntegers.value(twosComplement: Array(try counted(1))))
        case .long4: try push(PickleIntegers.value(twosComplement: Array(try counted(4, signed: true))))
        case .binFloat:
            let s = try take(8)
            var bits: UInt64 = 0
            for b in s { bits = bits << 8 | UInt64(b) }
            try push(.float(Double(bitPattern: bits)))
        case .int, .long, .float, .string, .unicode, .get, .put, .persID, .global, .inst:
            try executeText(op)

        case .binUnicode: try push(.string(try utf8(try counted(4))))
        case .shortBinUnicode: try push(.string(try utf8(try counted(1))))
        case .binUnicode8: try push(.string(try utf8(try counted(8))))
        case .binString: try push(.string(try utf8(try counted(4, signed: true))))
        case .shortBinString: try push(.string(try utf8(try counted(1))))
        case .binBytes: try push(.bytes(Array(try counted(4))))
        case .shortBinBytes: try push(.bytes(Array(try counted(1))))
        case .binBytes8, .byteArray8: try push(.bytes(Array(try counted(8))))

        case .emptyTuple: try push(.box(made(PickleBox(.tuple))))
        case .tuple: try push(.box(made(PickleBox(.tuple, items: try popToMark()))))
        case .tuple1, .tuple2, .tuple3:
            let n = Int(op.rawValue - PickleOpcode.tuple1.rawValue) + 1
            guard stack.count - floor >= n else { throw malformed("stack underflow") }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            try push(.box(made(PickleBox(.tuple, items: items))))
        case .emptyList: try push(.box(made(PickleBox(.list))))
        case .list: try push(.box(made(PickleBox(.list, items: try popToMark()))))
        case .emptyDict: try push(.box(made(PickleBox(.dict))))
        case .dict:
            let items = try popToMark()
            let d = made(PickleBox(.dict))
            try setItems(items, into: d)
            try push(.box(d))
        case .emptySet: try push(.box(made(PickleBox(.set))))
        case .frozenSet: try push(.box(made(PickleBox(.set, items: try popToMark()))))
        case .append:
            let v = try pop()
            try append([v], to: try top())
        case .appends:
            let items = try popToMark()
            try append(items, to: try top())
        case .addItems:
            let items = try popToMark()
            guard let b = try top().box, b.kind == .set || b.kind == .object else { throw malformed("ADDITEMS on a \(try top().kindName)") }
            b.items.append(contentsOf: items)
        case .setItem:
            let v = try pop(), k = try pop()
            try setItems([k, v], into: try target(of: try top()))
        case .setItems:
            let items = try popToMark()
            try setItems(items, into: try target(of: try top()))

        case .binPut: try memoize(Int(try byte()))
        case .longBinPut: try memoize(Int(try unsigned(4)))
        case .memoize: try memoize(memo.count)
        case .binGet: try push(try recall(Int(try byte())))
        case .longBinGet: try push(try recall(Int(try unsigned(4))))

        case .stackGlobal:
            let name = try pop(), module = try pop()
            guard case .leaf(.string(let n)) = name, case .leaf(.string(let m)) = module else {
                throw malformed("STACK_GLOBAL needs two strings, got \(module.kindName) and \(name.kindName)")
            }
            try push(.global(try named(module: m, name: n)))
        case .reduce:
            let args = try pop()
            let callable = try pop()
            try push(try call(callable, args: args, construction: .reduce))
        case .newObj:
            let args = try pop()
            let cls = try pop()
            try push(try call(cls, args: args, construction: .newObject))
        case .newObjEx:
            let kwargs = try pop(), args = try pop(), cls = try pop()
            try push(try call(cls, args: args, kwargs: kwargs, construction: .newObject))
        case .obj:
            var items = try popToMark()
            guard !items.isEmpty else { throw malformed("OBJ with no class") }
            let cls = items.removeFirst()
            try push(try call(cls, args: .box(made(PickleBox(.tuple, items: items))), construction: .reduce))
        case .build:
            let state = try pop()
            try build(try top(), state: state)
        case .binPersID:
            try push(try persistent(try pop()))

        case .ext1, .ext2, .ext4: throw unsupported("pickle extension-registry codes (EXT1/EXT2/EXT4)")
        case .nextBuffer, .readonlyBuffer: throw unsupported("out-of-band pickle buffers (protocol 5)")
        }
    }

    /// The global `module.name` after checking the policy for naming it.
    func named(module: String, name: String) throws(ContainerError) -> PickleGlobal {
        let g = PickleGlobalPolicy.normalized(module: module, name: name)
        if let reason = PickleGlobalPolicy.refusal(g) {
            let original = PickleGlobal(module: module, name: name)
            throw refused(g == original ? reason : "\(reason) (written as \(original))")
        }
        return g
    }

    func append(_ items: [PickleNode], to node: PickleNode) throws(ContainerError) {
        guard let b = node.box, b.kind == .list || b.kind == .object else { throw malformed("APPEND to a \(node.kindName)") }
        b.items.append(contentsOf: items)
    }

    /// The dict (or object record) SETITEM(S) fills.
    func target(of node: PickleNode) throws(ContainerError) -> PickleBox {
        guard let b = node.box, b.kind == .dict || b.kind == .object else { throw malformed("SETITEM on a \(node.kindName)") }
        return b
    }

    func setItems(_ items: [PickleNode], into b: PickleBox) throws(ContainerError) {
        guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of values") }
        var i = 0
        while i < items.count {
            b.set(items[i], items[i + 1])
            i += 2
        }
    }
}
