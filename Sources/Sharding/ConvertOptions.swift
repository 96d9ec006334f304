import CheckpointStore

/// Options of a conversion.
public struct ConvertOptions: Sendable {
    /// Storage options of the output files (codec, chunk size, threads).
    public var writer: WriterOptions
    /// Accept replicated tensors that differ across TP ranks (rank 0 is kept, differences are
    /// reported) instead of refusing.
    public var allowDivergentReplicas: Bool
    /// Bytes per row block read and written at a time (memory per block, two blocks live).
    public var blockBytes: Int

    /// Creates options.
    public init(writer: WriterOptions = WriterOptions(), allowDivergentReplicas: Bool = false, blockBytes: Int = 8 << 20) {
        self.writer = writer
        self.allowDivergentReplicas = allowDivergentReplicas
        self.blockBytes = blockBytes
    }
}
