/// A rectangle of a local (per-file) tensor that holds a rectangle of a canonical tensor.
///
/// Tensors are viewed as matrices `[dim0, product of the other dims]`; 1-D tensors have one
/// column. The canonical rectangle `canonicalRows x canonicalCols` sits in the local tensor at
/// rows `localRow ..< localRow + canonicalRows.count` and columns starting at `localCol`.
public struct TensorSegment: Sendable, Hashable {
    /// The canonical tensor name.
    public var canonical: String
    /// Rows of the canonical tensor.
    public var canonicalRows: Range<Int>
    /// Columns of the canonical tensor.
    public var canonicalCols: Range<Int>
    /// First local row.
    public var localRow: Int
    /// First local column.
    public var localCol: Int

    /// Creates a segment.
    public init(canonical: String, canonicalRows: Range<Int>, canonicalCols: Range<Int>, localRow: Int, localCol: Int) {
        self.canonical = canonical
        self.canonicalRows = canonicalRows
        self.canonicalCols = canonicalCols
        self.localRow = localRow
        self.localCol = localCol
    }
}
