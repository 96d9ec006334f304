import CheckpointStore
import Containers

/// Rank files in ckpt's HDF5 format (`model_optim_rng.h5`): each a format-v1 checkpoint whose
/// `layout` attribute is the rank's `MegatronRankLayout`.
public struct HDF5RankFormat: MegatronRankFormat {
    /// Creates the format.
    public init() {}

    /// `megatron`.
    public var name: String { "megatron" }
    /// `ckpt`.
    public var containerFormat: String { "ckpt" }
    /// `model_optim_rng.h5`.
    public var rankFile: String { MegatronDirectory.rankFile }

    /// Opens the file, checks its metadata checksum if asked, and parses its `layout`.
    public func openRank(_ path: String, rank: ShardFile, checkingMetadata: Bool) throws(ShardingError) -> MegatronRankContents {
        let reader: CheckpointReader
        do {
            reader = try CheckpointReader(path: path)
            if checkingMetadata { try reader.requireIntactMetadata() }
        } catch { throw .store(error) }
        let layout = try MegatronRankLayout.parse(reader.metadata.layoutJSON, path: path)
        return MegatronRankContents(container: HDF5Container(reader: reader), metadata: reader.metadata, rankLayout: layout)
    }

    /// An `HDF5ContainerWriter`.
    public func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
        try HDF5FileTarget.writer(file)
    }
}
