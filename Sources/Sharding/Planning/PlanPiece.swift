/// One rectangle copied from a source tensor into an output tensor.
///
/// Source rows `sourceRows` and columns `sourceCols` (matrix view: dim 0 x the rest) land in the
/// output at rows `destRow ..< destRow + sourceRows.count`, columns from `destCol`.
public struct PlanPiece: Sendable, Hashable {
    /// The source file.
    public var source: ShardFile
    /// The source tensor's stored name.
    public var sourceTensor: String
    /// Source rows.
    public var sourceRows: Range<Int>
    /// Source columns.
    public var sourceCols: Range<Int>
    /// First output row.
    public var destRow: Int
    /// First output column.
    public var destCol: Int

    /// Creates a piece.
    public init(source: ShardFile, sourceTensor: String, sourceRows: Range<Int>, sourceCols: Range<Int>, destRow: Int, destCol: Int) {
        self.source = source
        self.sourceTensor = sourceTensor
        self.sourceRows = sourceRows
        self.sourceCols = sourceCols
        self.destRow = destRow
        self.destCol = destCol
    }

    /// Output rows covered.
    public var destRows: Range<Int> { destRow..<destRow + sourceRows.count }
}
