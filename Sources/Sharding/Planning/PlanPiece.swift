import Containers

/// One box copied from a source tensor into an output tensor.
///
/// `sourceBox` (the source tensor's rank) and `destBox` (the output tensor's rank) hold the
/// same elements in the same row-major order once leading dimensions of extent 1 are dropped
/// down to the lower of the two ranks (the "core" dimensions: one layer of a stacked
/// `[layers, rows, cols]` tensor is a `[1, rows, cols]` box holding a `[rows, cols]` tensor) —
/// except that when `transposed`, the last two core dimensions are swapped: output element
/// `(.., a, b)` is source element `(.., b, a)` (a Hugging Face Conv1D weight `[in, out]`
/// filling a canonical `[out, in]` one).
public struct PlanPiece: Sendable, Hashable {
    /// The source file.
    public var source: ShardFile
    /// The source tensor's stored (layout) name.
    public var sourceTensor: String
    /// The box of the source tensor.
    public var sourceBox: TensorBox
    /// The box of the output tensor.
    public var destBox: TensorBox
    /// Whether the last two core dimensions are swapped between source and output.
    public var transposed: Bool

    /// Creates a piece.
    public init(source: ShardFile, sourceTensor: String, sourceBox: TensorBox, destBox: TensorBox, transposed: Bool = false) {
        self.source = source
        self.sourceTensor = sourceTensor
        self.sourceBox = sourceBox
        self.destBox = destBox
        self.transposed = transposed
    }

    /// Output rows (dimension 0) covered; `0..<1` for a scalar.
    public var destRows: Range<Int> { destBox.dimensionRange(0) }
    /// Source rows (dimension 0) read; `0..<1` for a scalar.
    public var sourceRows: Range<Int> { sourceBox.dimensionRange(0) }
    /// Elements copied.
    public var count: Int { destBox.count }
}
