/// REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ and BUILD: calls of allow-listed globals become data
/// ckpt constructs itself; opaque classes become records; anything else is refused.
extension PickleMachine {
    /// The value a call of `callable` with `args` (and keyword arguments) stands for.
    func call(_ callable: PickleNode, args: PickleNode, kwargs: PickleNode? = nil, construction: PickleConstruction) throws(ContainerError)
        -> PickleNode
    {
        let opcode = construction == .reduce ? "REDUCE" : "NEWOBJ"
        guard case .leaf(.global(let g)) = callable else { throw malformed("\(opcode) calls a \(callable.kindName), not a class or function") }
        guard let kind = PickleGlobalPolicy.callKind(g) else {
            throw refused("global \(g) is called, and it is not on ckpt's allow-list of callables")
        }
        guard var items = args.sequence else { throw malformed("\(opcode) of \(g) with a \(args.kindName) of arguments instead of a tuple") }
        if let kwargs {
            guard let kb = kwargs.box, kb.kind == .dict else { throw malformed("NEWOBJ_EX of \(g) with a \(kwargs.kindName) of keyword arguments") }
            if !kb.keys.isEmpty {
                guard kind == .opaque else { throw malformed("keyword arguments for \(g)") }
                items.append(kwargs)
            }
        }
        switch kind {
        case .dict:
            let d = made(PickleBox(.dict))
            if construction == .newObject || items.isEmpty { return .box(d) }
            guard items.count == 1 else { throw malformed("\(g) called with \(items.count) arguments") }
            if let src = items[0].box, src.kind == .dict {
                for (k, v) in zip(src.keys, src.values) { d.set(k, v) }
            } else if let pairs = items[0].sequence {
                for p in pairs {
                    guard let kv = p.sequence, kv.count == 2 else { throw malformed("\(g) called with a sequence that is not of pairs") }
                    d.set(kv[0], kv[1])
                }
            } else {
                throw malformed("\(g) called with a \(items[0].kindName)")
            }
            return .box(d)
        case .set:
            if construction == .newObject || items.isEmpty { return .box(made(PickleBox(.set))) }
            guard items.count == 1 else { throw malformed("\(g) called with \(items.count) arguments") }
            if let src = items[0].box, src.kind == .set { return .box(made(PickleBox(.set, items: src.items))) }
            guard let elements = items[0].sequence else { throw malformed("\(g) called with a \(items[0].kindName)") }
            return .box(made(PickleBox(.set, items: elements)))
        case .bytes:
            if items.isEmpty { return .leaf(.bytes([])) }
            if items.count == 1, case .leaf(.bytes(let b)) = items[0] { return .leaf(.bytes(b)) }
            if items.count == 1, let ints = items[0].intSequence {
                guard ints.allSatisfy({ $0 >= 0 && $0 < 256 }) else { throw malformed("\(g) of integers outside 0...255") }
                return .leaf(.bytes(ints.map { UInt8($0) }))
            }
            if items.count >= 2 { return .leaf(.bytes(try encode(items, for: g))) }
            throw malformed("\(g) called with a \(items[0].kindName)")
        case .encode:
            return .leaf(.bytes(try encode(items, for: g)))
        case .torchSize:
            guard items.count == 1, let dims = items[0].intSequence else { throw malformed("torch.Size called without a tuple of ints") }
            return .leaf(.tuple(dims.map { .int(Int64($0)) }))
        case .layout:
            guard items.count == 1, case .leaf(.string(let s)) = items[0], s.hasPrefix("torch."), s.count > 6 else {
                throw malformed("\(g) called without a torch layout name")
            }
            return .leaf(.global(PickleGlobal(module: "torch", name: String(s.dropFirst(6)))))
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .parameter, .rebuildFromType:
            return .leaf(.tensor(try tensor(kind, g, items)))
        case .reconstructor:
            guard items.count == 3, case .leaf(.global(let cls)) = items[0] else { throw malformed("\(g) called without (class, base, state)") }
            if let reason = PickleGlobalPolicy.refusal(cls) { throw refused(reason) }
            switch PickleGlobalPolicy.callKind(cls) {
            case .dict?: return .box(made(PickleBox(.dict)))
            case .set?: return .box(made(PickleBox(.set)))
            case .opaque?:
                let plainBase: Bool = {
                    if case .leaf(.global(let b)) = items[1] { return b.module == "builtins" && b.name == "object" }
                    return false
                }()
                let args = plainBase || items[2].leaf == PickleValue.none ? [] : [items[2]]
                return .box(made(PickleBox(object: cls, args: args, construction: .newObject)))
            default:
                throw refused("global \(cls) is instantiated, and it is not on ckpt's allow-list of classes")
            }
        case .opaque:
            return .box(made(PickleBox(object: g, args: items, construction: construction)))
        }
    }

    /// `_codecs.encode(text[, encoding[, errors]])` (and `bytes(text, encoding)`): Latin-1 maps
    /// each code point below 256 to one byte, as protocol 2 pickles of `bytes` need.
    func encode(_ items: [PickleNode], for g: PickleGlobal) throws(ContainerError) -> [UInt8] {
        guard (1...3).contains(items.count), case .leaf(.string(let text)) = items[0] else {
            throw malformed("\(g) called without a string")
        }
        var encoding = "utf-8"
        if items.count >= 2 {
            guard case .leaf(.string(let e)) = items[1] else { throw malformed("\(g) called with a non-string encoding") }
            encoding = e.lowercased().replacingOccurrences(of: "_", with: "-")
        }
        switch encoding {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1", "ascii", "us-ascii":
            let limit: UInt32 = encoding.contains("ascii") ? 128 : 256
            var out: [UInt8] = []
            out.reserveCapacity(text.utf8.count)
            for s in text.unicodeScalars {
                guard s.value < limit else { throw malformed("\(g): code point U+\(String(s.value, radix: 16, uppercase: true)) is not \(encoding)") }
                out.append(UInt8(s.value))
            }
            return out
        case "utf-8", "utf8":
            return Array(text.utf8)
        default:
            throw unsupported("\(g) with encoding \(encoding)")
        }
    }

    /// BUILD: sets the state of an object record. Attributes set on a dict (the `_metadata` of
    /// a `state_dict()`) and the state of a tensor are dropped; BUILD with None does nothing.
    func build(_ target: PickleNode, state: PickleNode) throws(ContainerError) {
        if state.leaf == PickleValue.none { return }
        switch target {
        case .box(let b) where b.kind == .object:
            if let old = b.state?.box, old.kind == .dict, let new = state.box, new.kind == .dict, old !== new {
                for (k, v) in zip(new.keys, new.values) { old.set(k, v) }
            } else {
                b.state = state
            }
        case .box(let b) where b.kind == .dict:
            return
        case .leaf(.tensor):
            return
        default:
            throw malformed("BUILD on a \(target.kindName)")
        }
    }
}
