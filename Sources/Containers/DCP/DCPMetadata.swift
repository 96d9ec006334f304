import CheckpointStore

/// The global metadata of a PyTorch DCP checkpoint (`torch.distributed.checkpoint.metadata.
/// Metadata`, the `.metadata` pickle of `FileSystemWriter`), decoded by ckpt's restricted
/// pickle reader and checked: every tensor's chunks lie inside its global shape, tile it without
/// overlaps or gaps, and each chunk and bytes item has its storage record.
///
/// Megatron's variants are accepted: the class `MCoreMetadata` (megatron-core 0.15) and the
/// extra attributes `mcore_data` and `all_local_plans`, kept opaque in `extraAttributes`.
public struct DCPMetadata: Sendable {
    /// The pickled class (`torch.distributed.checkpoint.metadata.Metadata`, or Megatron's
    /// `MCoreMetadata`).
    public var type: PickleGlobal
    /// The tensors, in `state_dict_metadata` order.
    public var tensors: [DCPTensorEntry] { didSet { reindex() } }
    /// The bytes items, in `state_dict_metadata` order.
    public var bytesItems: [DCPBytesEntry] { didSet { reindex() } }
    /// `planner_data` (DefaultSavePlanner: fqn → the path tuple of the nested state dict), opaque.
    public var plannerData: PickleValue?
    /// `storage_meta` (torch >= 2.4), or nil.
    public var storageMeta: DCPStorageMeta?
    /// `version` (`1.0.0` since torch 2.9), or nil.
    public var version: String?
    /// Every other attribute the pickle sets (`mcore_data`, `all_local_plans` ...), opaque.
    public var extraAttributes: [PickleDictEntry]
    private var tensorIndex: [String: Int] = [:]
    private var bytesIndex: [String: Int] = [:]

    /// The Python class torch's `FileSystemWriter` pickles.
    public static let torchClass = PickleGlobal(module: "torch.distributed.checkpoint.metadata", name: "Metadata")
    /// megatron-core 0.15's subclass.
    public static let megatronClass = PickleGlobal(module: "megatron.core.dist_checkpointing.strategies.torch", name: "MCoreMetadata")

    /// Creates metadata from its parts; fqns must be unique across tensors and bytes items.
    public init(
        type: PickleGlobal = DCPMetadata.torchClass, tensors: [DCPTensorEntry], bytesItems: [DCPBytesEntry], plannerData: PickleValue? = nil,
        storageMeta: DCPStorageMeta? = nil, version: String? = nil, extraAttributes: [PickleDictEntry] = []
    ) {
        self.type = type
        self.tensors = tensors
        self.bytesItems = bytesItems
        self.plannerData = plannerData
        self.storageMeta = storageMeta
        self.version = version
        self.extraAttributes = extraAttributes
        reindex()
    }

    private mutating func reindex() {
        var t: [String: Int] = [:], b: [String: Int] = [:]
        for (i, e) in tensors.enumerated() where t[e.fqn] == nil { t[e.fqn] = i }
        for (i, e) in bytesItems.enumerated() where b[e.fqn] == nil { b[e.fqn] = i }
        tensorIndex = t
        bytesIndex = b
    }

    /// The tensor named `fqn`, or nil.
    public func tensor(named fqn: String) -> DCPTensorEntry? { tensorIndex[fqn].map { tensors[$0] } }

    /// The bytes item named `fqn`, or nil.
    public func bytesItem(named fqn: String) -> DCPBytesEntry? { bytesIndex[fqn].map { bytesItems[$0] } }

    /// The extra attribute `name` (`mcore_data`, `all_local_plans`), or nil.
    public func extraAttribute(_ name: String) -> PickleValue? {
        extraAttributes.last { $0.key == .string(name) }?.value
    }

    /// Every data file the items use, in first-use order.
    public var files: [String] {
        var seen = Set<String>(), out: [String] = []
        for t in tensors {
            for c in t.chunks where seen.insert(c.storage.relativePath).inserted { out.append(c.storage.relativePath) }
        }
        for b in bytesItems where seen.insert(b.storage.relativePath).inserted { out.append(b.storage.relativePath) }
        return out
    }

    /// Reads and decodes the `.metadata` file at `path`.
    public static func read(path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) -> DCPMetadata {
        let bytes = try SmallFile.read(path, maxBytes: limits.maxMetadataBytes)
        return try decode(bytes, path: path, limits: limits)
    }

    /// Decodes a `.metadata` pickle; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) -> DCPMetadata {
        guard bytes.count <= limits.maxMetadataBytes else {
            throw .malformed(path: path, detail: "\(bytes.count) bytes of DCP metadata, more than the limit of \(limits.maxMetadataBytes)")
        }
        let root = try PickleReader.decode(bytes, path: path, entry: ".metadata", limits: limits.pickle)
        return try DCPMetadataDecoder(path: path, limits: limits).metadata(root)
    }
}
