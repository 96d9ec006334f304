import CheckpointStore

/// Options of a conversion.
public struct ConvertOptions: Sendable {
    /// Storage options of the output files (codec, chunk size, threads).
    public var writer: WriterOptions
    /// Accept replicated tensors that differ across TP ranks (rank 0 is kept, differences are
    /// reported) instead of refusing.
    public var allowDivergentReplicas: Bool
    /// Bytes per row block written at a time, and the size of the source windows decoded.
    public var blockBytes: Int

    /// Bytes of decoded source windows kept for reuse (see `SourceWindowCache`).
    public var cacheBytes: Int
    /// Output files written in lockstep at most (the TP ranks of one stage).
    public var maxOpenWriters: Int

    /// Source files kept open at most (each open reader keeps its decoding buffers).
    public var maxOpenReaders: Int

    /// Whether an existing output (a file for wafer, a directory for megatron) is replaced,
    /// atomically; by default it is refused (`ShardingError.outputExists`).
    public var replaceExisting = false
    /// Whether the conversion is refused up front when the output's file system has less free
    /// space than the output's estimated size (`FreeSpace`).
    public var checkFreeSpace = false

    /// Creates options.
    public init(
        writer: WriterOptions = WriterOptions(), allowDivergentReplicas: Bool = false, blockBytes: Int = 8 << 20,
        cacheBytes: Int = 256 << 20, maxOpenWriters: Int = 8, maxOpenReaders: Int = 16
    ) {
        self.writer = writer
        self.allowDivergentReplicas = allowDivergentReplicas
        self.blockBytes = blockBytes
        self.cacheBytes = cacheBytes
        self.maxOpenWriters = maxOpenWriters
        self.maxOpenReaders = maxOpenReaders
    }
}
