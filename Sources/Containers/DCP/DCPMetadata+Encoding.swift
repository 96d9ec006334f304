/// `DCPMetadata` as the object graph torch's `FileSystemWriter.finish` pickles: dataclasses made
/// with NEWOBJ and filled by BUILD with their `__dict__` (`TensorProperties` with its
/// `__getstate__` tuple), `torch.Size` as REDUCE of a tuple, the layout through
/// `torch.serialization._get_layout`, `_StorageInfo` without `transform_descriptors` when there
/// are none (as torch >= 2.8 writes it). `pickle.load` in torch 2.4 to 2.13 rebuilds it into
/// the real classes.
extension DCPMetadata {
    /// The value to pickle (protocol 2 with `PickleWriter`).
    public func pickleValue() -> PickleValue {
        let m = DCPMetadataDecoder.module
        func cls(_ module: String, _ name: String) -> PickleGlobal { PickleGlobal(module: module, name: name) }
        func dataclass(_ c: PickleGlobal, _ fields: [(String, PickleValue)]?) -> PickleValue {
            .object(PickleObject(type: c, state: fields.map { .dict($0.map { PickleDictEntry(key: .string($0.0), value: $0.1) }) }, construction: .newObject))
        }
        func size(_ dims: [Int]) -> PickleValue {
            .object(PickleObject(type: cls("torch", "Size"), args: [.tuple(dims.map { .int(Int64($0)) })]))
        }
        func properties(_ t: DCPTensorEntry) -> PickleValue {
            let layout = PickleValue.object(PickleObject(type: cls("torch.serialization", "_get_layout"), args: [.string("torch.strided")]))
            let format = PickleValue.object(PickleObject(type: cls(m, "_MEM_FORMAT_ENCODING"), args: [.int(0)]))
            let state = PickleValue.tuple([.global(cls("torch", t.torchDType)), layout, .bool(t.requiresGrad), format, .bool(false)])
            return .object(PickleObject(type: DCPMetadataDecoder.propertiesClass, state: state, construction: .newObject))
        }
        func index(_ fqn: String, _ offset: [Int]?) -> PickleValue {
            var f: [(String, PickleValue)] = [("fqn", .string(fqn)), ("index", .none)]
            if let offset { f.append(("offset", size(offset))) }
            return dataclass(DCPMetadataDecoder.indexClass, f)
        }
        func info(_ s: DCPStorageInfo) -> PickleValue {
            var f: [(String, PickleValue)] = [
                ("relative_path", .string(s.relativePath)), ("offset", .int(Int64(s.offset))), ("length", .int(Int64(s.length))),
            ]
            if !s.transforms.isEmpty { f.append(("transform_descriptors", .list(s.transforms.map { .string($0) }))) }
            return dataclass(DCPMetadataDecoder.storageInfoClass, f)
        }
        var sdm: [PickleDictEntry] = [], storage: [PickleDictEntry] = []
        for t in tensors {
            let chunks = t.chunks.map { c in
                dataclass(DCPMetadataDecoder.chunkClass, [("offsets", size(c.box.offsets)), ("sizes", size(c.box.sizes))])
            }
            sdm.append(
                PickleDictEntry(
                    key: .string(t.fqn),
                    value: dataclass(DCPMetadataDecoder.tensorClass, [("properties", properties(t)), ("size", size(t.shape)), ("chunks", .list(chunks))])))
            for c in t.chunks { storage.append(PickleDictEntry(key: index(t.fqn, c.box.offsets), value: info(c.storage))) }
        }
        for b in bytesItems {
            sdm.append(PickleDictEntry(key: .string(b.fqn), value: dataclass(DCPMetadataDecoder.bytesClass, nil)))
            storage.append(PickleDictEntry(key: index(b.fqn, nil), value: info(b.storage)))
        }
        var meta: PickleValue = .none
        if let s = storageMeta {
            meta = dataclass(
                DCPMetadataDecoder.storageMetaClass,
                [
                    ("checkpoint_id", s.checkpointID.map { .string($0) } ?? .none), ("save_id", s.saveID.map { .string($0) } ?? .none),
                    ("load_id", s.loadID.map { .string($0) } ?? .none), ("modules", .list(s.modules.map { .string($0) })),
                ])
        }
        var fields: [(String, PickleValue)] = [
            ("state_dict_metadata", .dict(sdm)), ("planner_data", plannerData ?? .none), ("storage_data", .dict(storage)),
            ("storage_meta", meta), ("version", version.map { .string($0) } ?? .none),
        ]
        for e in extraAttributes { if case .string(let k) = e.key { fields.append((k, e.value)) } }
        return dataclass(type, fields)
    }

    /// The `.metadata` bytes: `pickleValue()` as a protocol 2 pickle; `path` names the output
    /// in errors.
    public func encode(path: String) throws(ContainerError) -> [UInt8] {
        try PickleWriter.encode(pickleValue(), path: path)
    }

    /// DefaultSavePlanner's `planner_data` for a flat state dict: each fqn → the 1-tuple of
    /// itself (what `_EmptyStateDictLoadPlanner` and `dcp_to_torch_save` unflatten by).
    public static func flatPlannerData(_ fqns: [String]) -> PickleValue {
        .dict(fqns.map { PickleDictEntry(key: .string($0), value: .tuple([.string($0)])) })
    }
}
