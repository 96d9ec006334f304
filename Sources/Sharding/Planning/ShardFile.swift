/// One file of a checkpoint layout: a (tensor rank, pipeline rank) pair. The wafer layout has
/// the single file (0, 0).
public struct ShardFile: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Tensor-parallel rank.
    public var tpRank: Int
    /// Pipeline-parallel rank (stage).
    public var ppRank: Int

    /// Creates a file identifier.
    public init(tpRank: Int, ppRank: Int) {
        self.tpRank = tpRank
        self.ppRank = ppRank
    }

    /// The only file of the wafer layout.
    public static let wafer = ShardFile(tpRank: 0, ppRank: 0)

    /// Orders by pipeline stage, then tensor rank.
    public static func < (a: ShardFile, b: ShardFile) -> Bool {
        (a.ppRank, a.tpRank) < (b.ppRank, b.tpRank)
    }

    /// `tp<r>/pp<s>`.
    public var description: String { "tp\(tpRank)/pp\(ppRank)" }
}
