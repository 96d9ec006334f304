import CheckpointStore

/// One tensor of a DCP write plan: its fqn, dtype, global shape and the chunks the caller cut
/// it into (one per layer x TP shard, per FSDP rank ...). The chunks must tile the shape.
public struct DCPPlannedTensor: Sendable, Hashable {
    /// The fully qualified name.
    public var fqn: String
    /// The element type.
    public var dtype: DType
    /// The global shape.
    public var shape: [Int]
    /// The chunks.
    public var chunks: [DCPPlannedChunk]

    /// Creates a planned tensor.
    public init(fqn: String, dtype: DType, shape: [Int], chunks: [DCPPlannedChunk]) {
        self.fqn = fqn
        self.dtype = dtype
        self.shape = shape
        self.chunks = chunks
    }

    /// The tensor as one chunk in `file`.
    public static func whole(fqn: String, dtype: DType, shape: [Int], file: String) -> DCPPlannedTensor {
        DCPPlannedTensor(fqn: fqn, dtype: dtype, shape: shape, chunks: [DCPPlannedChunk(box: .whole(shape), file: file)])
    }

    /// The tensor cut into `parts` row blocks along dimension 0 (sizes differing by at most
    /// one, larger first, as `torch.chunk` and DTensor's `Shard(0)` cut), block `r` in
    /// `files[r]`; empty blocks are left out.
    public static func rowBlocks(fqn: String, dtype: DType, shape: [Int], files: [String]) -> DCPPlannedTensor {
        guard let rows = shape.first, !files.isEmpty else {
            return whole(fqn: fqn, dtype: dtype, shape: shape, file: files.first ?? DCPFileName.data(rank: 0, index: 0))
        }
        let per = (rows + files.count - 1) / files.count
        var chunks: [DCPPlannedChunk] = []
        for (r, f) in files.enumerated() {
            let lo = min(rows, r * per), hi = min(rows, lo + per)
            if hi > lo { chunks.append(DCPPlannedChunk(box: .rows(lo..<hi, of: shape), file: f)) }
        }
        return DCPPlannedTensor(fqn: fqn, dtype: dtype, shape: shape, chunks: chunks)
    }
}
