import ArgumentParser
import CheckpointStore

/// Flags shared by commands that write checkpoints.
struct StoreOptions: ParsableArguments {
    @Option(help: "Chunk codec: none, zstd (level 1) or zstd:<level 1...22>.")
    var codec: String = "zstd:1"

    @Option(name: .customLong("chunk-mb"), help: "Target chunk size in MiB, in (0, 1024].")
    var chunkMB: Double = 4

    @Option(help: "Encoder threads, 1...1024 (default: all cores).")
    var threads: Int?

    func validate() throws {
        do { _ = try Codec(parsing: codec) } catch { throw ValidationError(error.description) }
        guard chunkMB > 0 && chunkMB <= 1024, chunkMB * 1_048_576 >= 1 else { throw ValidationError("--chunk-mb must be in (0, 1024]") }
        try FlagBounds.check("threads", threads, FlagBounds.threads)
    }

    /// The writer options these flags describe.
    func writerOptions() throws -> WriterOptions {
        WriterOptions(codec: try Codec(parsing: codec), chunkBytes: Int(chunkMB * 1_048_576), threads: threads)
    }
}
