import CheckpointStore
import Containers

/// Everything a target format's writer factory gets for one output file.
public struct TargetFile: Sendable {
    /// Where the writer writes (a file, or a directory for directory containers), inside the
    /// temporary tree when the output is an `OutputStructure.tree`.
    public var path: String
    /// Which file of the layout it is.
    public var file: ShardFile
    /// The target layout.
    public var layout: CheckpointLayout
    /// The model.
    public var config: ModelConfig
    /// Every tensor the file will receive (stored names and sections), in writing order.
    public var manifest: [ContainerTensor]
    /// The metadata to record (step, model_config, optimizer, RNG, user metadata, and the
    /// file's `layoutJSON`), as far as the format can hold it.
    public var metadata: CheckpointMetadata
    /// Storage options for ckpt HDF5 files (codec, chunk size, threads).
    public var writerOptions: WriterOptions
    /// Whether an existing file at `path` may be replaced (only when it is the final output).
    public var replaceExisting: Bool

    /// Creates a description.
    public init(
        path: String, file: ShardFile, layout: CheckpointLayout, config: ModelConfig, manifest: [ContainerTensor],
        metadata: CheckpointMetadata, writerOptions: WriterOptions, replaceExisting: Bool
    ) {
        self.path = path
        self.file = file
        self.layout = layout
        self.config = config
        self.manifest = manifest
        self.metadata = metadata
        self.writerOptions = writerOptions
        self.replaceExisting = replaceExisting
    }
}
