/// Turns the decoded `.metadata` pickle into `DCPMetadata`, checking every field's type and
/// every count against `DCPLimits`; the chunk geometry is checked by `DCPChunkGeometry`.
struct DCPMetadataDecoder {
    let path: String
    let limits: DCPLimits

    static let module = "torch.distributed.checkpoint.metadata"
    static let tensorClass = PickleGlobal(module: module, name: "TensorStorageMetadata")
    static let bytesClass = PickleGlobal(module: module, name: "BytesStorageMetadata")
    static let chunkClass = PickleGlobal(module: module, name: "ChunkStorageMetadata")
    static let propertiesClass = PickleGlobal(module: module, name: "TensorProperties")
    static let indexClass = PickleGlobal(module: module, name: "MetadataIndex")
    static let storageMetaClass = PickleGlobal(module: module, name: "StorageMeta")
    static let storageInfoClass = PickleGlobal(module: "torch.distributed.checkpoint.filesystem", name: "_StorageInfo")
    /// The fields of `Metadata` itself; everything else is an extra attribute.
    static let fields: Set<String> = ["state_dict_metadata", "planner_data", "storage_data", "storage_meta", "version"]

    func bad(_ detail: String) -> ContainerError { .malformed(path: path, detail: "DCP metadata: \(detail)") }

    func badTensor(_ fqn: String, _ detail: String) -> ContainerError {
        .badTensor(path: path, tensor: PrintableName.of(fqn), detail: detail)
    }

    /// The attributes of a dataclass record of class `cls`: its BUILD state dict.
    func attributes(_ v: PickleValue, _ cls: PickleGlobal, what: String) throws(ContainerError) -> [PickleDictEntry] {
        guard case .object(let o) = v, o.type == cls else { throw bad("\(what) is a \(Self.kind(v)), not a \(cls.name)") }
        switch o.state {
        case .dict(let e)?: return e
        case nil: return []
        default: throw bad("\(what): the state of its \(cls.name) is not a dict")
        }
    }

    static func field(_ entries: [PickleDictEntry], _ name: String) -> PickleValue? {
        entries.last { $0.key == .string(name) }?.value
    }

    static func kind(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .set: return "set"
        case .global(let g): return "global \(g)"
        case .object(let o): return "\(o.type) object"
        case .tensor: return "tensor"
        case .storage: return "storage"
        }
    }

    /// A `torch.Size` (decoded as a tuple of ints) of non-negative dimensions.
    func dims(_ v: PickleValue?, what: String, fqn: String) throws(ContainerError) -> [Int] {
        guard let e = v?.elements else { throw badTensor(fqn, "\(what) is \(v.map(Self.kind) ?? "missing"), not a torch.Size") }
        guard e.count <= limits.maxRank else { throw badTensor(fqn, "\(what) has \(e.count) dimensions, more than the limit of \(limits.maxRank)") }
        var out: [Int] = []
        out.reserveCapacity(e.count)
        for x in e {
            guard case .int(let i) = x, i >= 0, let n = Int(exactly: i) else { throw badTensor(fqn, "\(what) holds \(x), not a non-negative int") }
            out.append(n)
        }
        return out
    }

    func metadata(_ root: PickleValue) throws(ContainerError) -> DCPMetadata {
        guard case .object(let o) = root, o.type == DCPMetadata.torchClass || o.type == DCPMetadata.megatronClass else {
            throw bad("the pickle holds a \(Self.kind(root)), not a torch.distributed.checkpoint Metadata")
        }
        guard case .dict(let attrs)? = o.state else { throw bad("the Metadata's state is not a dict of its fields") }
        guard case .dict(let sdm)? = Self.field(attrs, "state_dict_metadata") else {
            throw bad("state_dict_metadata is \(Self.field(attrs, "state_dict_metadata").map(Self.kind) ?? "missing"), not a dict")
        }
        guard sdm.count <= limits.maxEntries else { throw bad("\(sdm.count) entries, more than the limit of \(limits.maxEntries)") }
        let storage = try storageData(Self.field(attrs, "storage_data"))
        var tensors: [DCPTensorEntry] = [], bytesItems: [DCPBytesEntry] = []
        var seen = Set<String>(), chunkTotal = 0
        for e in sdm {
            guard case .string(let fqn) = e.key else { throw bad("a state_dict_metadata key is a \(Self.kind(e.key)), not a str") }
            guard seen.insert(fqn).inserted else { throw badTensor(fqn, "listed twice in state_dict_metadata") }
            if case .object(let v) = e.value, v.type == Self.bytesClass {
                guard let s = storage[DCPMetadataIndex(fqn: fqn, offset: nil)] else {
                    throw badTensor(fqn, "bytes item without a storage record in storage_data")
                }
                bytesItems.append(DCPBytesEntry(fqn: fqn, storage: s))
                continue
            }
            let t = try tensor(fqn, e.value, storage: storage)
            chunkTotal += t.chunks.count
            guard chunkTotal <= limits.maxChunks else { throw bad("more than \(limits.maxChunks) chunks") }
            try DCPChunkGeometry.check(t, path: path, limits: limits)
            tensors.append(t)
        }
        var extra: [PickleDictEntry] = []
        for a in attrs {
            if case .string(let k) = a.key, Self.fields.contains(k) { continue }
            extra.append(a)
        }
        var version: String?
        switch Self.field(attrs, "version") {
        case .string(let s)?: version = s
        case .none?, nil: version = nil
        case let v?: throw bad("version is a \(Self.kind(v)), not a str")
        }
        let plannerData = Self.field(attrs, "planner_data").flatMap { $0.isNone ? nil : $0 }
        let md = DCPMetadata(
            type: o.type, tensors: tensors, bytesItems: bytesItems, plannerData: plannerData,
            storageMeta: try storageMeta(Self.field(attrs, "storage_meta")), version: version, extraAttributes: extra)
        guard md.files.count <= limits.maxFiles else { throw bad("\(md.files.count) data files, more than the limit of \(limits.maxFiles)") }
        return md
    }

    func tensor(_ fqn: String, _ v: PickleValue, storage: [DCPMetadataIndex: DCPStorageInfo]) throws(ContainerError) -> DCPTensorEntry {
        guard case .object(let o) = v, o.type == Self.tensorClass else {
            throw badTensor(fqn, "its metadata is a \(Self.kind(v)), not a TensorStorageMetadata or BytesStorageMetadata")
        }
        let a = try attributes(v, Self.tensorClass, what: "tensor \(PrintableName.of(fqn))")
        let (dtype, requiresGrad) = try properties(fqn, Self.field(a, "properties"))
        let shape = try dims(Self.field(a, "size"), what: "size", fqn: fqn)
        guard let list = Self.field(a, "chunks")?.elements else { throw badTensor(fqn, "chunks is not a list") }
        guard list.count <= limits.maxChunksPerTensor else {
            throw badTensor(fqn, "\(list.count) chunks, more than the limit of \(limits.maxChunksPerTensor)")
        }
        var chunks: [DCPChunk] = []
        chunks.reserveCapacity(list.count)
        for c in list {
            let ca = try attributes(c, Self.chunkClass, what: "a chunk of tensor \(PrintableName.of(fqn))")
            let offsets = try dims(Self.field(ca, "offsets"), what: "chunk offsets", fqn: fqn)
            let sizes = try dims(Self.field(ca, "sizes"), what: "chunk sizes", fqn: fqn)
            guard offsets.count == shape.count, sizes.count == shape.count else {
                throw badTensor(fqn, "chunk offsets \(offsets) and sizes \(sizes) do not have the rank of its shape \(shape)")
            }
            guard let s = storage[DCPMetadataIndex(fqn: fqn, offset: offsets)] else {
                throw badTensor(fqn, "chunk at offsets \(offsets) has no storage record in storage_data")
            }
            chunks.append(DCPChunk(box: TensorBox(offsets: offsets, sizes: sizes), storage: s))
        }
        return DCPTensorEntry(fqn: fqn, torchDType: dtype, shape: shape, requiresGrad: requiresGrad, chunks: chunks)
    }

    /// `TensorProperties`: its `__getstate__` tuple `(dtype, layout, requires_grad,
    /// memory_format, pin_memory)`, or a dict of the fields.
    func properties(_ fqn: String, _ v: PickleValue?) throws(ContainerError) -> (String, Bool) {
        guard case .object(let o)? = v, o.type == Self.propertiesClass else {
            throw badTensor(fqn, "properties is \(v.map(Self.kind) ?? "missing"), not a TensorProperties")
        }
        var dtype: PickleValue?, grad: PickleValue?, layout: PickleValue?
        switch o.state {
        case .tuple(let t)?, .list(let t)?:
            guard t.count >= 1 else { throw badTensor(fqn, "TensorProperties state is an empty tuple") }
            dtype = t[0]
            layout = t.count > 1 ? t[1] : nil
            grad = t.count > 2 ? t[2] : nil
        case .dict(let d)?:
            dtype = Self.field(d, "dtype")
            layout = Self.field(d, "layout")
            grad = Self.field(d, "requires_grad")
        default:
            throw badTensor(fqn, "TensorProperties without a state")
        }
        guard case .global(let g)? = dtype, g.module == "torch", let name = TorchDTypeName.canonical(g.name) else {
            throw badTensor(fqn, "dtype is \(dtype.map(Self.kind) ?? "missing"), not a torch dtype")
        }
        if let layout, case .global(let l) = layout, !(l.module == "torch" && l.name == "strided") {
            throw ContainerError.unsupported(path: path, detail: "tensor \(PrintableName.of(fqn)): layout \(l) (only torch.strided tensors are read)")
        }
        return (name, grad?.boolValue ?? false)
    }

    func storageData(_ v: PickleValue?) throws(ContainerError) -> [DCPMetadataIndex: DCPStorageInfo] {
        guard case .dict(let entries)? = v else {
            throw bad("storage_data is \(v.map(Self.kind) ?? "missing"), not the dict of MetadataIndex to _StorageInfo FileSystemWriter writes")
        }
        guard entries.count <= limits.maxChunks else { throw bad("\(entries.count) storage records, more than the limit of \(limits.maxChunks)") }
        var out: [DCPMetadataIndex: DCPStorageInfo] = [:]
        out.reserveCapacity(entries.count)
        for e in entries {
            let ka = try attributes(e.key, Self.indexClass, what: "a storage_data key")
            guard case .string(let fqn)? = Self.field(ka, "fqn") else { throw bad("a MetadataIndex without a str fqn") }
            var offset: [Int]?
            if let o = Self.field(ka, "offset"), !o.isNone { offset = try dims(o, what: "MetadataIndex offset", fqn: fqn) }
            let key = DCPMetadataIndex(fqn: fqn, offset: offset)
            let info = try storageInfo(e.value, for: key)
            guard out.updateValue(info, forKey: key) == nil else { throw badTensor(fqn, "storage_data lists \(key) twice") }
        }
        return out
    }

    func storageInfo(_ v: PickleValue, for key: DCPMetadataIndex) throws(ContainerError) -> DCPStorageInfo {
        let a = try attributes(v, Self.storageInfoClass, what: "the storage record of \(key)")
        guard case .string(let file)? = Self.field(a, "relative_path") else { throw badTensor(key.fqn, "storage record \(key) without a str relative_path") }
        guard DCPFileName.isSafe(file) else {
            throw ContainerError.refused(
                path: path,
                detail:
                    "tensor \(PrintableName.of(key.fqn)): data file \(PrintableName.of(file).debugDescription) is not a plain file name inside the checkpoint directory"
            )
        }
        guard case .int(let o)? = Self.field(a, "offset"), o >= 0, let offset = Int(exactly: o),
            case .int(let l)? = Self.field(a, "length"), l >= 0, let length = Int(exactly: l), !offset.addingReportingOverflow(length).overflow
        else { throw badTensor(key.fqn, "storage record \(key) without a non-negative int offset and length") }
        var transforms: [String] = []
        switch Self.field(a, "transform_descriptors") {
        case nil, .none?: break
        case let d?:
            guard let e = d.elements, e.count <= 16 else { throw badTensor(key.fqn, "transform_descriptors of \(key) is not a short list") }
            for x in e {
                guard case .string(let s) = x, s.utf8.count <= 256 else { throw badTensor(key.fqn, "transform descriptor \(x) of \(key) is not a short str") }
                transforms.append(s)
            }
        }
        return DCPStorageInfo(relativePath: file, offset: offset, length: length, transforms: transforms)
    }

    func storageMeta(_ v: PickleValue?) throws(ContainerError) -> DCPStorageMeta? {
        guard let v, !v.isNone else { return nil }
        let a = try attributes(v, Self.storageMetaClass, what: "storage_meta")
        func text(_ name: String) -> String? {
            switch Self.field(a, name) {
            case .string(let s)?: return s
            case .object(let p)? where p.type.module.hasPrefix("pathlib"):
                let parts = p.args.compactMap(\.stringValue)
                guard let first = parts.first else { return "" }
                return first == "/" ? "/" + parts.dropFirst().joined(separator: "/") : parts.joined(separator: "/")
            default: return nil
            }
        }
        let modules = (Self.field(a, "modules")?.elements ?? []).compactMap(\.stringValue)
        return DCPStorageMeta(checkpointID: text("checkpoint_id"), saveID: text("save_id"), loadID: text("load_id"), modules: modules)
    }
}
