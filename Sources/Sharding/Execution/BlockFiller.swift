import CheckpointStore
import Containers

/// Resolves row blocks (rows of dimension 0) of planned output tensors (one section each)
/// against the shared `SourceWindowCache`: which source rows a block needs (`requests`, for
/// `prefetch`) and, once they are cached, how the block is made from them (`recipe`). Rows no
/// piece fills (padding) are zero.
///
/// A piece that is not transposed reads the source rows matching the block's rows, so output
/// and source stream together by row windows. A transposed piece (a Hugging Face Conv1D
/// weight, `[in, out]`, against a canonical `[out, in]` one) fills the block's rows from a
/// column strip of the source, i.e. from every source row the piece covers: those rows are
/// requested for every block and stay cached while the output tensor is written. Tensors that
/// get transposed are single weight matrices — at most a few hundred MB even at 20B scale
/// (GPT-NeoX-20B's `c_attn`: 6144 x 18432 bf16 = 226 MB, 453 MB for an fp32 optimizer moment)
/// — so holding one whole is a bounded cost, paid only by those tensors.
struct BlockFiller {
    let cache: SourceWindowCache

    /// The source rows that the recipe of rows `rows` of `tensor`'s `section` reads.
    func requests(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>) -> [SourceWindowCache.Request] {
        var out: [SourceWindowCache.Request] = []
        for p in tensor.pieces {
            guard let q = p.restricted(destRows: rows) else { continue }
            out.append(.init(file: q.source, tensor: TensorKey(section: section.sourceSection, name: q.sourceTensor), rows: q.sourceRows))
        }
        return out
    }

    /// How rows `rows` of `tensor`'s `section` are made (row-major, `rows.count` rows of the
    /// target's row length) from the windows the cache holds after `prefetch(requests(...))`.
    ///
    /// A derived section (`SectionDType.isDerived`: 16-bit source data for a float32 target) is
    /// copied from its source section and widened exactly.
    func recipe(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>) throws(ShardingError) -> BlockRecipe {
        let target = tensor.target
        let source = section.source
        var widenedFrom: DType?
        if section.isDerived {
            guard section.dtype == .float32, source.dtype == .bfloat16 || source.dtype == .float16 else {
                throw .layoutMismatch(
                    "\(target.name): cannot fill \(section.dtype.rawValue) \(section.section) from \(source.dtype.rawValue) \(source.section)")
            }
            widenedFrom = source.dtype
        }
        let blockShape = target.shape.isEmpty ? [] : [rows.count] + target.shape.dropFirst()
        var copies: [BlockRecipe.Copy] = []
        var placed: [TensorBox] = []
        for p in tensor.pieces {
            guard var q = p.restricted(destRows: rows) else { continue }
            if !q.destBox.offsets.isEmpty { q.destBox.offsets[0] -= rows.lowerBound }
            placed.append(q.destBox)
            let key = TensorKey(section: source.section, name: q.sourceTensor)
            let sourceShape = try cache.shape(q.source, key)
            for (w, base) in try cache.prefetchedWindows(q.source, key, rows: q.sourceRows) {
                guard var part = q.restricted(sourceRows: w) else { continue }
                var windowShape = sourceShape
                if !windowShape.isEmpty {
                    windowShape[0] = w.count
                    part.sourceBox.offsets[0] -= w.lowerBound
                }
                copies.append(
                    .init(source: base, sourceShape: windowShape, sourceBox: part.sourceBox, destBox: part.destBox, transposed: part.transposed))
            }
        }
        let elements = rows.count * target.cols
        return BlockRecipe(
            byteCount: elements * section.dtype.size, blockShape: blockShape, elementSize: source.dtype.size, copies: copies,
            coversBlock: Self.tiles(placed, elements: elements), widenedFrom: widenedFrom)
    }

    /// Whether boxes of a block of `elements` elements fill it: disjoint and as many elements
    /// together. (A plan's pieces cover every element but padding exactly once; checking it
    /// here keeps a block from ever being written with unset bytes.)
    static func tiles(_ boxes: [TensorBox], elements: Int) -> Bool {
        guard boxes.reduce(0, { $0 + $1.count }) == elements else { return false }
        for i in boxes.indices {
            for j in boxes.indices where j > i && boxes[i].overlap(with: boxes[j]) != nil { return false }
        }
        return true
    }
}
