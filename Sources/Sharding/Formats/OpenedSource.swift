import CheckpointStore
import Containers

/// What a `SourceFormat` found when opening an input: everything `CheckpointSource` needs.
public struct OpenedSource: Sendable {
    /// The format's name (`SourceFormat.name`).
    public var formatName: String
    /// The layout of the files.
    public var layout: CheckpointLayout
    /// The model configuration.
    public var config: ModelConfig
    /// Step, model_config, optimizer, RNG and user metadata (of rank tp0/pp0 for directories);
    /// `layoutJSON` is that file's.
    public var metadata: CheckpointMetadata
    /// The path of each file of the layout.
    public var paths: [ShardFile: String]
    /// The tensors of each file under their stored names, as listed when opened.
    public var inventories: [ShardFile: [ContainerTensor]]
    /// Containers already open (kept, subject to the open-container bound).
    public var open: [ShardFile: any TensorContainer]
    /// Whether reads check stored checksums (ckpt HDF5: yes; safetensors, `torch.save`: no).
    public var verifiesChecksums: Bool
    /// Opens one file of the layout again after it was closed.
    public var reopen: @Sendable (ShardFile) throws(ShardingError) -> any TensorContainer

    /// Creates a description.
    public init(
        formatName: String, layout: CheckpointLayout, config: ModelConfig, metadata: CheckpointMetadata, paths: [ShardFile: String],
        inventories: [ShardFile: [ContainerTensor]], open: [ShardFile: any TensorContainer], verifiesChecksums: Bool,
        reopen: @escaping @Sendable (ShardFile) throws(ShardingError) -> any TensorContainer
    ) {
        self.formatName = formatName
        self.layout = layout
        self.config = config
        self.metadata = metadata
        self.paths = paths
        self.inventories = inventories
        self.open = open
        self.verifiesChecksums = verifiesChecksums
        self.reopen = reopen
    }
}
