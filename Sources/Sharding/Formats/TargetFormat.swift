import CheckpointStore
import Containers

/// A way of writing checkpoints of one layout kind in one container format: where the files go
/// (`OutputStructure`) and a writer for each file.
///
/// ckpt's own are `HDF5FileTarget` (wafer file) and `MegatronDirectoryTarget` over a
/// `MegatronRankFormat`; other containers plug in as further conformances (or with
/// `SingleContainerTarget`) listed in a `FormatRegistry`.
public protocol TargetFormat: Sendable {
    /// The layout kind it writes.
    var layoutKind: LayoutKind { get }
    /// The container format's name (`ckpt`, `torch`, `safetensors`).
    var containerFormat: String { get }
    /// Where the files of `layout` go, for a checkpoint at step `step`.
    func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure
    /// A writer of one output file (its path, manifest and metadata in `file`).
    func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter
    /// How the target stores optimizer state against the source's (default `.asSource`).
    var optimizerStatePolicy: OptimizerStatePolicy { get }
    /// The members of the source's user metadata (`userJSON`'s top-level keys: `megatron`,
    /// `cerebras`, ...) the target writes back; nil (the default): all of it, as ckpt's files
    /// keep it. The report has a note for each member left out.
    var keptUserMetadata: Set<String>? { get }
    /// Refuses, before any work, a model the format cannot say how to compute although its
    /// layout table maps the tensors (`cannotExpress`); the default accepts every model.
    func check(model config: ModelConfig) throws(ShardingError)
}

extension TargetFormat {
    /// Every section as the source stores it.
    public var optimizerStatePolicy: OptimizerStatePolicy { .asSource }
    /// All of it.
    public var keptUserMetadata: Set<String>? { nil }
    /// Accepts every model the layout table maps.
    public func check(model config: ModelConfig) throws(ShardingError) {}
}
