/// What a `DCPCheckpointWriter` writes: the tensors with their chunks, the bytes items, and
/// what goes into `.metadata` besides them.
public struct DCPWritePlan: Sendable {
    /// The tensors, in the order `.metadata` lists them.
    public var tensors: [DCPPlannedTensor]
    /// The bytes items, listed after the tensors.
    public var bytesItems: [DCPPlannedBytes]
    /// `planner_data`; nil writes DefaultSavePlanner's mapping of a flat state dict (each fqn to
    /// the 1-tuple of itself).
    public var plannerData: PickleValue?
    /// The pickled class (`Metadata`; Megatron may want its own).
    public var metadataClass: PickleGlobal
    /// Extra attributes of the metadata object (`mcore_data` ...).
    public var extraAttributes: [PickleDictEntry]

    /// Creates a plan.
    public init(
        tensors: [DCPPlannedTensor], bytesItems: [DCPPlannedBytes] = [], plannerData: PickleValue? = nil,
        metadataClass: PickleGlobal = DCPMetadata.torchClass, extraAttributes: [PickleDictEntry] = []
    ) {
        self.tensors = tensors
        self.bytesItems = bytesItems
        self.plannerData = plannerData
        self.metadataClass = metadataClass
        self.extraAttributes = extraAttributes
    }

    /// Checks the plan: unique fqns, plain data file names, chunks that tile each shape.
    /// `path` names the output in errors.
    public func validate(path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) {
        var seen = Set<String>()
        func file(_ f: String, _ fqn: String) throws(ContainerError) {
            guard DCPFileName.isSafe(f) else {
                throw .badTensor(
                    path: path, tensor: PrintableName.of(fqn), detail: "data file \(PrintableName.of(f).debugDescription) is not a plain file name")
            }
        }
        for t in tensors {
            guard seen.insert(t.fqn).inserted else { throw .badTensor(path: path, tensor: PrintableName.of(t.fqn), detail: "planned twice") }
            guard t.shape.count <= limits.maxRank, t.chunks.count <= limits.maxChunksPerTensor else {
                throw .badTensor(path: path, tensor: PrintableName.of(t.fqn), detail: "rank \(t.shape.count) or \(t.chunks.count) chunks exceed the limits")
            }
            for c in t.chunks { try file(c.file, t.fqn) }
            try DCPChunkGeometry.check(fqn: t.fqn, shape: t.shape, boxes: t.chunks.map(\.box), path: path, limits: limits)
        }
        for b in bytesItems {
            guard seen.insert(b.fqn).inserted else { throw .badTensor(path: path, tensor: PrintableName.of(b.fqn), detail: "planned twice") }
            try file(b.file, b.fqn)
        }
    }
}
