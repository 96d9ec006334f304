import CheckpointStore

/// A tensor of a DCP checkpoint (`TensorStorageMetadata`): its global shape, element type
/// (`TensorProperties.dtype`) and the chunks that tile it.
public struct DCPTensorEntry: Sendable, Hashable {
    /// The fully qualified name.
    public var fqn: String
    /// torch's name of the dtype (`float32`, `bfloat16`, `float8_e4m3fn` ...).
    public var torchDType: String
    /// ckpt's dtype, or nil for torch dtypes ckpt has no equivalent for.
    public var dtype: DType? { TorchDTypeName.dtype(torchDType) }
    /// The global shape (`size`).
    public var shape: [Int]
    /// `TensorProperties.requires_grad`, as recorded.
    public var requiresGrad: Bool
    /// The chunks, in the order `.metadata` lists them.
    public var chunks: [DCPChunk]

    /// Creates a record.
    public init(fqn: String, torchDType: String, shape: [Int], requiresGrad: Bool = false, chunks: [DCPChunk]) {
        self.fqn = fqn
        self.torchDType = torchDType
        self.shape = shape
        self.requiresGrad = requiresGrad
        self.chunks = chunks
    }
}
