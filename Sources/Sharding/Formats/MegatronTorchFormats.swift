import CheckpointStore
import Containers
import Foundation

/// Megatron-LM's legacy `torch` checkpoint directories (`--ckpt-format torch`) as a source and a
/// target of conversions: the same `megatron` layout as ckpt's HDF5 rank files, in
/// `model_optim_rng.pt` files (and `distrib_optim.pt` when reading), opened through
/// `MegatronTorchDirectory` (args, optimizer forms, the bucket walk) and written by
/// `MegatronTorchRankWriter`.
public enum MegatronTorchFormats {
    /// The format's name.
    public static let name = "megatron-torch"
    /// The container name of its rank files.
    public static let containerFormat = "torch"

    /// The source format. `vocab` is the unpadded vocabulary when the caller knows it (Megatron
    /// records only the padded size; see `MegatronArgs.vocab(requested:)`).
    public static func source(vocab: Int? = nil) -> any SourceFormat { Source(vocab: vocab) }

    /// The target format.
    public static func target() -> any TargetFormat { Target() }

    /// Reads a whole directory at once: the ranks must agree on their args, which only the
    /// directory can check.
    struct Source: SourceFormat {
        var vocab: Int?
        var name: String { MegatronTorchFormats.name }

        func recognizes(_ path: String) -> Bool { MegatronTorchDirectory.isMegatronTorch(path) }

        func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
            let dir: MegatronTorchDirectory
            do throws(ContainerError) { dir = try MegatronTorchDirectory(path: path, vocab: vocab) } catch { throw ShardingError.from(error) }
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
            let iter = dir.iterationDirectory, shape = dir.shape
            return OpenedSource(
                formatName: name, layout: layout, config: dir.modelConfig, metadata: metadata, paths: paths,
                inventories: inventories, open: open, verifiesChecksums: false,
                reopen: { (f: ShardFile) throws(ShardingError) -> any TensorContainer in
                    do throws(ContainerError) { return try MegatronTorchRank(directory: iter + "/" + shape.rankDirectoryName(f), file: f) } catch {
                        throw ShardingError.from(error)
                    }
                })
        }
    }

    /// Writes the tracker, `iter_{step:07d}/` (or `release/` for step 0: Megatron-LM refuses a
    /// tracker holding 0) and a `model_optim_rng.pt` per rank.
    struct Target: TargetFormat {
        var layoutKind: LayoutKind { .megatron }
        /// megatron-core's optimizers keep float32 moments and masters: 16-bit ones are widened.
        var optimizerStatePolicy: OptimizerStatePolicy { .megatronFloat32 }
        /// The source's Megatron-LM state is restored (`MegatronTorchMetadata`); nothing else.
        var keptUserMetadata: Set<String>? { ["megatron"] }
        var containerFormat: String { MegatronTorchFormats.containerFormat }
        /// Only models megatron-core computes (`MegatronCoreModel`).
        func check(model config: ModelConfig) throws(ShardingError) { try MegatronCoreModel.check(config) }

        func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure {
            let shape = layout.effectiveShape
            let iter = MegatronDirectory.savedDirectory(step: step)
            var files: [ShardFile: String] = [:]
            for f in layout.files { files[f] = "\(iter)/\(shape.rankDirectoryName(f))/\(MegatronTorchDirectory.modelFile)" }
            return .tree(OutputTree(files: files, textFiles: [(MegatronDirectory.trackerFile, MegatronDirectory.trackerText(step: step))]))
        }

        func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
            do throws(ContainerError) {
                return try MegatronTorchRankWriter(
                    path: file.path, file: file.file, shape: file.layout.effectiveShape, config: file.config, metadata: file.metadata,
                    manifest: file.manifest)
            } catch {
                throw ShardingError.from(error)
            }
        }
    }
}
