import Foundation

/// How a `CheckpointWriter` stores tensors.
public struct WriterOptions: Sendable {
    /// Chunk codec (default `zstd:1`).
    public var codec: Codec = .default
    /// Target chunk size in bytes (default 4 MiB).
    public var chunkBytes: Int = 4 << 20
    /// Encoder threads (default: all cores).
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Whether `commit()` may replace an existing file at the path (atomically; default true).
    /// When false an existing file, even one another process publishes while this one writes,
    /// is left alone and `commit()` fails with `StoreError.outputExists`.
    public var overwrite = true

    /// Creates options; every field can be changed afterwards.
    public init(codec: Codec = .default, chunkBytes: Int = 4 << 20, threads: Int? = nil) {
        self.codec = codec
        self.chunkBytes = chunkBytes
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
    }
}
