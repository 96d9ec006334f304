import Containers

/// Writes a Megatron checkpoint directory: `latest_checkpointed_iteration.txt` (the step), and
/// `iter_{step:07d}/mp_rank_{tp:02d}[_{pp:03d}]/<rankFile>` for every rank, the rank files in
/// `ranks`' container format.
public struct MegatronDirectoryTarget: TargetFormat {
    /// The rank files' format.
    public let ranks: any MegatronRankFormat

    /// Creates the target format.
    public init(ranks: any MegatronRankFormat) { self.ranks = ranks }

    /// `megatron`.
    public var layoutKind: LayoutKind { .megatron }
    /// The rank files' container format.
    public var containerFormat: String { ranks.containerFormat }

    /// The tracker, iteration directory and rank directories.
    public func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure {
        let shape = layout.effectiveShape
        var files: [ShardFile: String] = [:]
        for f in layout.files { files[f] = MegatronDirectory.relativePath(of: f, shape: shape, step: step, rankFile: ranks.rankFile) }
        return .tree(OutputTree(files: files, textFiles: [(MegatronDirectory.trackerFile, String(step) + "\n")]))
    }

    /// The rank format's writer.
    public func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
        try ranks.makeWriter(file)
    }
}
