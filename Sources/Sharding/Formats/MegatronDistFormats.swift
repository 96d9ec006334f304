import CheckpointStore
import Containers
import Foundation

/// Megatron's `torch_dist` checkpoints (megatron.core.dist_checkpointing, the default
/// `--ckpt-format` since megatron-core 0.9) as a source and a target of conversions: read as the
/// (TP, PP) ranks of ckpt's `megatron` layout (`MegatronDistDirectory`), written as global
/// tensors in a PyTorch DCP checkpoint that megatron-core loads at any TP x PP
/// (`MegatronDistTarget`).
public enum MegatronDistFormats {
    /// The format's name.
    public static let name = "megatron-dist"
    /// The container name of its output.
    public static let containerFormat = "torch_dist"

    /// The source format. `vocab` is the unpadded vocabulary when the caller knows it.
    /// `openStore` opens the DCP checkpoint of an iteration directory (default: `DCPDistStore`).
    public static func source(
        vocab: Int? = nil,
        openStore: @escaping @Sendable (String) throws(ContainerError) -> any DistCheckpointStore = { (d: String) throws(ContainerError) in
            try DCPDistStore(directory: d)
        }
    ) -> any SourceFormat {
        Source(vocab: vocab, openStore: openStore)
    }

    /// The target format: `latest_checkpointed_iteration.txt`, `iter_{step:07d}/` (or
    /// `release/` for step 0) with one DCP data file per rank, `.metadata`, `common.pt` and
    /// `metadata.json` (written last).
    public static func target() -> any TargetFormat { Target() }

    struct Target: TargetFormat {
        var layoutKind: LayoutKind { .megatron }
        /// megatron-core's optimizers keep float32 moments and masters: 16-bit ones are widened.
        var optimizerStatePolicy: OptimizerStatePolicy { .megatronFloat32 }
        /// The source's Megatron-LM state is restored (`MegatronTorchMetadata`); nothing else.
        var keptUserMetadata: Set<String>? { ["megatron"] }
        var containerFormat: String { MegatronDistFormats.containerFormat }
        /// Only models megatron-core computes (`MegatronCoreModel`).
        func check(model config: ModelConfig) throws(ShardingError) { try MegatronCoreModel.check(config) }

        func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure {
            let shape = layout.effectiveShape
            let iter = MegatronDirectory.savedDirectory(step: step)
            var files: [ShardFile: String] = [:]
            for f in layout.files { files[f] = "\(iter)/\(MegatronDistWritePlanner.dataFile(f, shape: shape))" }
            return .tree(
                OutputTree(
                    files: files,
                    textFiles: [
                        ("\(iter)/\(MegatronDistBackend.fileName)", MegatronDistBackend().text),
                        (MegatronDirectory.trackerFile, MegatronDirectory.trackerText(step: step)),
                    ]))
        }

        func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
            let interpreter = try LayoutInterpreter()
            do throws(ContainerError) {
                return try MegatronDistRankWriter(
                    path: file.path, file: file.file, shape: file.layout.effectiveShape, config: file.config, metadata: file.metadata,
                    manifest: file.manifest, interpreter: interpreter)
            } catch {
                throw ShardingError.from(error)
            }
        }
    }

    /// Reads a whole directory at once: one store, every rank a view of it.
    struct Source: SourceFormat {
        var vocab: Int?
        var openStore: @Sendable (String) throws(ContainerError) -> any DistCheckpointStore
        var name: String { MegatronDistFormats.name }

        func recognizes(_ path: String) -> Bool { MegatronDistDirectory.isMegatronDist(path) }

        func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
            let dir = try MegatronDistDirectory(path: path, vocab: vocab, interpreter: try LayoutInterpreter(), openStore: openStore)
            let layout = CheckpointLayout.megatron(dir.shape)
            var metadata = dir.metadata
            metadata.layoutJSON = layout.layoutJSON(for: ShardFile(tpRank: 0, ppRank: 0), config: dir.modelConfig)
            var paths: [ShardFile: String] = [:], inventories: [ShardFile: [ContainerTensor]] = [:]
            var open: [ShardFile: any TensorContainer] = [:]
            for (f, r) in dir.ranks {
                paths[f] = r.path
                inventories[f] = r.tensors
                open[f] = r
            }
            let ranks = dir.ranks
            return OpenedSource(
                formatName: name, layout: layout, config: dir.modelConfig, metadata: metadata, paths: paths,
                inventories: inventories, open: open, verifiesChecksums: false,
                reopen: { (f: ShardFile) throws(ShardingError) -> any TensorContainer in
                    guard let r = ranks[f] else { throw .missingRank(path: dir.iterationDirectory, rank: f.description) }
                    return r
                })
        }
    }
}
