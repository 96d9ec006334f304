/// One output tensor of a plan: its stored name and shape and the pieces that fill it.
public struct PlannedTensor: Sendable, Hashable {
    /// The output tensor (stored name, local shape, canonical segments).
    public var target: LocalTensor
    /// The pieces, sorted by output row then column; together they cover every non-padding
    /// element exactly once.
    public var pieces: [PlanPiece]

    /// Creates a planned tensor.
    public init(target: LocalTensor, pieces: [PlanPiece]) {
        self.target = target
        self.pieces = pieces
    }

    /// Output rows no piece fills; they are written as zeros (vocabulary padding).
    public var paddingRows: [Range<Int>] { target.paddingRows }
}
