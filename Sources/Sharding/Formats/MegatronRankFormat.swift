import Containers

/// The container format of the rank files of a Megatron checkpoint directory
/// (`iter_*/mp_rank_TT[_PPP]/<rankFile>`): ckpt HDF5 (`HDF5RankFormat`, `model_optim_rng.h5`)
/// or Megatron-LM's `torch.save` files (`model_optim_rng.pt`).
///
/// Both hold the same layout (`LayoutKind.megatron`: names and local shapes from
/// `formats/layouts/megatron-gpt.json`); only reading and writing one rank file differs. The
/// directory walk, the cross-rank checks and the output tree are shared
/// (`MegatronDirectorySource`, `MegatronDirectoryTarget`).
public protocol MegatronRankFormat: Sendable {
    /// The name of directories of these rank files (`megatron`, `megatron-torch`).
    var name: String { get }
    /// The container format's name (`ckpt`, `torch`).
    var containerFormat: String { get }
    /// The rank file inside each rank directory (`model_optim_rng.h5`).
    var rankFile: String { get }
    /// Opens the rank file at `path`, found in the directory of rank `rank`; checks its
    /// metadata checksum when `checkingMetadata` and the format has one. The returned
    /// metadata must carry `modelConfig` (or the directory is refused as lacking it) and the
    /// rank layout as the file records it (or as the format derives it: Megatron's `args`).
    func openRank(_ path: String, rank: ShardFile, checkingMetadata: Bool) throws(ShardingError) -> MegatronRankContents
    /// A writer of one rank file (`file.path` ends in `rankFile`).
    func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter
}
