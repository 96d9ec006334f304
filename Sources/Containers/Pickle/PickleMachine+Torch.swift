/// The `torch.save` parts of the machine: storages named by persistent ids and the tensor
/// rebuild calls that view them.
extension PickleMachine {
    /// Most dimensions a tensor may have.
    static let maxRank = 64

    /// BINPERSID: `('storage', storage_class, key, location, count)` becomes a storage
    /// reference; nothing else is a persistent id ckpt reads.
    func persistent(_ pid: PickleNode) throws(ContainerError) -> PickleNode {
        var small = limits
        small.maxDepth = min(limits.maxDepth, 4)
        small.maxNodes = min(limits.maxNodes, 64)
        var m = PickleMaterializer(limits: small) { [self] d in malformed("persistent id: \(d)") }
        guard case .tuple(let t) = try m.value(pid).value, !t.isEmpty else {
            throw unsupported("persistent id that is a \(pid.kindName), not a torch.save storage tuple")
        }
        let tag: String? = {
            if case .string(let s) = t[0] { return s }
            if case .bytes(let b) = t[0] { return String(decoding: b, as: UTF8.self) }
            return nil
        }()
        guard tag == "storage" else { throw unsupported("persistent id \(tag.map { "'\($0)'" } ?? "of another kind") (only torch.save storages are read)") }
        guard t.count == 5 else { throw malformed("storage persistent id of \(t.count) fields instead of 5") }
        guard case .global(let cls) = t[1] else { throw malformed("storage persistent id without a storage class") }
        guard let (dtypeName, untyped) = TorchStorageType.resolve(cls) else { throw unsupported("storage class \(cls)") }
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw malformed("storage persistent id with a \(t[2]) key")
        }
        guard !key.isEmpty, key.utf8.count <= 256, !key.contains("/") else { throw malformed("storage key \(key.prefix(64)) is empty, too long or has a '/'") }
        guard case .string(let location) = t[3] else { throw malformed("storage \(key): location is not a string") }
        guard case .int(let n) = t[4], n >= 0, let count = Int(exactly: n) else { throw malformed("storage \(key): count is not a non-negative int") }
        return .leaf(.storage(TorchStorageRef(key: key, dtypeName: dtypeName, isUntyped: untyped, location: location, count: count)))
    }

    /// The tensor a rebuild call of kind `kind` describes.
    func tensor(_ kind: PickleCallKind, _ g: PickleGlobal, _ a: [PickleNode]) throws(ContainerError) -> TorchTensorRef {
        func need(_ n: Int) throws(ContainerError) {
            guard a.count >= n else { throw malformed("\(g) called with \(a.count) arguments, fewer than \(n)") }
        }
        func flag(_ node: PickleNode) throws(ContainerError) -> Bool {
            switch node {
            case .leaf(.bool(let b)): return b
            case .leaf(.int(let i)): return i != 0
            default: throw malformed("\(g): requires_grad is a \(node.kindName)")
            }
        }
        switch kind {
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            try need(kind == .rebuildTensor ? 4 : kind == .rebuildTensorV2 ? 5 : 7)
            guard case .leaf(.storage(let storage)) = a[0] else { throw malformed("\(g) called with a \(a[0].kindName) instead of a storage") }
            guard case .leaf(.int(let off)) = a[1], let offset = Int(exactly: off) else { throw malformed("\(g): storage offset is not an int") }
            guard let shape = a[2].intSequence, let strides = a[3].intSequence, shape.count == strides.count, shape.count <= Self.maxRank else {
                throw malformed("\(g): size and stride are not tuples of ints of one rank (at most \(Self.maxRank))")
            }
            var dtypeName = storage.dtypeName
            if kind == .rebuildTensorV3 {
                guard case .leaf(.global(let d)) = a[6], d.module == "torch" else { throw malformed("\(g): dtype is a \(a[6].kindName)") }
                dtypeName = TorchDTypeName.canonical(d.name) ?? d.name
            }
            let requiresGrad = kind == .rebuildTensor ? false : try flag(a[4])
            return TorchTensorRef(
                storage: storage, dtypeName: dtypeName, storageOffset: offset, shape: shape, strides: strides, requiresGrad: requiresGrad,
                isParameter: false)
        case .rebuildParameter, .parameter:
            try need(1)
            guard case .leaf(.tensor(var t)) = a[0] else { throw malformed("\(g) called with a \(a[0].kindName) instead of a tensor") }
            t.isParameter = true
            t.requiresGrad = a.count >= 2 ? try flag(a[1]) : kind == .parameter
            return t
        case .rebuildFromType:
            try need(3)
            guard case .leaf(.global(let f)) = a[0], let inner = PickleGlobalPolicy.callKind(f), inner != .rebuildFromType,
                [.rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .parameter].contains(inner)
            else { throw refused("\(g) applies \(a[0].kindName), which is not one of torch's tensor rebuild functions") }
            guard let args = a[2].sequence else { throw malformed("\(g): arguments are a \(a[2].kindName)") }
            var t = try tensor(inner, f, args)
            if case .leaf(.global(let type)) = a[1], type.name == "Parameter" { t.isParameter = true }
            return t
        default:
            throw malformed("\(g) is not a tensor rebuild function")
        }
    }
}
