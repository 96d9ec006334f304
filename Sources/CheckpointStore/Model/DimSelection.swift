/// The part of one dimension a read selects: `count` indices `start, start+stride, ...`.
public struct DimSelection: Sendable, Hashable {
    /// First index.
    public var start: Int
    /// Number of indices.
    public var count: Int
    /// Step between indices (>= 1).
    public var stride: Int

    /// Creates a selection.
    public init(start: Int, count: Int, stride: Int = 1) {
        self.start = start
        self.count = count
        self.stride = stride
    }

    /// All of a dimension of extent `n`.
    public static func all(_ n: Int) -> DimSelection { DimSelection(start: 0, count: n) }

    /// A half-open range with stride 1.
    public static func range(_ r: Range<Int>) -> DimSelection { DimSelection(start: r.lowerBound, count: r.count) }

    /// The last selected index.
    var last: Int { start + (count - 1) * stride }
}
