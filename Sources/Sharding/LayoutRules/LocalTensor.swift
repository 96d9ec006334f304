/// A tensor as stored in one file of a layout, with the canonical boxes it holds.
public struct LocalTensor: Sendable, Hashable {
    /// The file holding it.
    public var file: ShardFile
    /// The stored (local) name: canonical for wafer, megatron-core for megatron, Hugging Face
    /// for hf.
    public var name: String
    /// The local shape.
    public var shape: [Int]
    /// The canonical boxes it holds; elements no segment covers are padding (zero).
    public var segments: [TensorSegment]
    /// Whether this copy is the one read when merging. Replicas on TP ranks > 0 and Megatron's
    /// last-stage copy of a tied embedding are not primary; they are checked against it.
    public var isPrimary: Bool
    /// How the layout splits it (`replicated` for every wafer tensor).
    public var split: LayoutRule.SplitKind
    /// The canonical tensors it is made of (also when, as for a vocabulary rank holding only
    /// padding, no segment is present).
    public var canonicalNames: [String]
    /// Whether sources may lack this tensor and targets do not write it (an optional copy,
    /// `LayoutRule.optional`).
    public var isOptional: Bool
    /// Whether it carries optimizer state like its canonical tensors (false for copies that are
    /// not parameters, `LayoutRule.noOptimizerState`).
    public var holdsOptimizerState: Bool = true

    /// Creates a local tensor description.
    public init(
        file: ShardFile, name: String, shape: [Int], segments: [TensorSegment], isPrimary: Bool,
        split: LayoutRule.SplitKind, canonicalNames: [String], isOptional: Bool = false
    ) {
        self.file = file
        self.name = name
        self.shape = shape
        self.segments = segments
        self.isPrimary = isPrimary
        self.split = split
        self.canonicalNames = canonicalNames
        self.isOptional = isOptional
    }

    /// Extent of dimension 0 (1 for a scalar): output tensors are written in blocks of rows.
    public var rows: Int { shape.first ?? 1 }
    /// Elements per row: the product of the dimensions after the first.
    public var cols: Int { shape.dropFirst().reduce(1, *) }

    /// Rows (dimension 0) no segment touches (vocabulary padding), as sorted disjoint ranges.
    public var paddingRows: [Range<Int>] {
        let covered = segments.map { s -> Range<Int> in
            let b = s.localBox
            return b.offsets.isEmpty ? 0..<1 : b.offsets[0]..<b.offsets[0] + b.sizes[0]
        }.sorted { $0.lowerBound < $1.lowerBound }
        var out: [Range<Int>] = []
        var cursor = 0
        for r in covered {
            if r.lowerBound > cursor { out.append(cursor..<r.lowerBound) }
            cursor = max(cursor, r.upperBound)
        }
        if cursor < rows { out.append(cursor..<rows) }
        return out
    }
}
