/// An N-dimensional box of a tensor: `sizes[d]` indices from `offsets[d]` in each dimension.
///
/// Reads and plan pieces address tensors by boxes, so chunks of any format (row blocks, DCP
/// chunks, TP shards of any dimension) are one case.
public struct TensorBox: Sendable, Hashable, CustomStringConvertible {
    /// First index in each dimension.
    public var offsets: [Int]
    /// Extent in each dimension.
    public var sizes: [Int]

    /// Creates a box; `offsets` and `sizes` have the tensor's rank.
    public init(offsets: [Int], sizes: [Int]) {
        precondition(offsets.count == sizes.count, "box offsets and sizes differ in rank")
        self.offsets = offsets
        self.sizes = sizes
    }

    /// The whole of a tensor of shape `shape`.
    public static func whole(_ shape: [Int]) -> TensorBox {
        TensorBox(offsets: Array(repeating: 0, count: shape.count), sizes: shape)
    }

    /// Rows `rows` (dimension 0) and everything of the other dimensions.
    public static func rows(_ rows: Range<Int>, of shape: [Int]) -> TensorBox {
        guard !shape.isEmpty else { return whole(shape) }
        var o = Array(repeating: 0, count: shape.count), s = shape
        o[0] = rows.lowerBound
        s[0] = rows.count
        return TensorBox(offsets: o, sizes: s)
    }

    /// Number of elements.
    public var count: Int { sizes.reduce(1, *) }

    /// Whether the box lies inside a tensor of shape `shape`.
    public func fits(_ shape: [Int]) -> Bool {
        guard shape.count == offsets.count else { return false }
        for d in 0..<shape.count {
            if offsets[d] < 0 || sizes[d] < 0 || offsets[d] > shape[d] || sizes[d] > shape[d] - offsets[d] { return false }
        }
        return true
    }

    /// `[o0:o0+s0, o1:o1+s1, ...]`.
    public var description: String {
        "[" + zip(offsets, sizes).map { "\($0):\($0 + $1)" }.joined(separator: ", ") + "]"
    }
}
