import CheckpointStore
import Containers

/// Fills one row block (rows of dimension 0) of a planned output tensor (one section) from the
/// source: the block is zeroed (padding rows stay zero) and every piece overlapping it is
/// copied in from the shared `SourceWindowCache`.
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

    /// The source rows that `fill` will read for rows `rows` of `tensor`'s `section`.
    func requests(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>) -> [SourceWindowCache.Request] {
        var out: [SourceWindowCache.Request] = []
        for p in tensor.pieces {
            guard let q = p.restricted(destRows: rows) else { continue }
            out.append(.init(file: q.source, tensor: TensorKey(section: section.sourceSection, name: q.sourceTensor), rows: q.sourceRows))
        }
        return out
    }

    /// Writes rows `rows` of `tensor`'s `section` into `block` (row-major, `rows.count` rows of
    /// the target's row length).
    ///
    /// A derived section (`SectionDType.isDerived`: 16-bit source data for a float32 target) is
    /// filled from its source section into a scratch block, then widened exactly into `block`.
    func fill(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>, into block: UnsafeMutableRawPointer) throws(ShardingError) {
        guard !section.isDerived else { return try fillWidened(tensor, section, rows: rows, into: block) }
        let es = section.dtype.size
        let target = tensor.target
        block.initializeMemory(as: UInt8.self, repeating: 0, count: rows.count * target.cols * es)
        let blockShape = target.shape.isEmpty ? [] : [rows.count] + target.shape.dropFirst()
        for p in tensor.pieces {
            guard var q = p.restricted(destRows: rows) else { continue }
            if !q.destBox.offsets.isEmpty { q.destBox.offsets[0] -= rows.lowerBound }
            let key = TensorKey(section: section.section, name: q.sourceTensor)
            let sourceShape = try cache.shape(q.source, key)
            try cache.withWindows(q.source, key, rows: q.sourceRows) { (w: Range<Int>, base: UnsafeRawPointer) throws(ShardingError) in
                guard var part = q.restricted(sourceRows: w) else { return }
                var windowShape = sourceShape
                if !windowShape.isEmpty {
                    windowShape[0] = w.count
                    part.sourceBox.offsets[0] -= w.lowerBound
                }
                BoxCopy.copy(
                    from: base, shape: windowShape, box: part.sourceBox, to: block, shape: blockShape, box: part.destBox,
                    transposed: part.transposed, elementSize: es)
            }
        }
    }

    /// Fills `section`'s source data (16-bit floats) and widens it to float32 in `block`.
    private func fillWidened(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>, into block: UnsafeMutableRawPointer)
        throws(ShardingError)
    {
        let source = section.source
        let n = rows.count * tensor.target.cols
        guard section.dtype == .float32, source.dtype == .bfloat16 || source.dtype == .float16 else {
            throw .layoutMismatch(
                "\(tensor.target.name): cannot fill \(section.dtype.rawValue) \(section.section) from \(source.dtype.rawValue) \(source.section)")
        }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, n * source.dtype.size), alignment: 64)
        defer { scratch.deallocate() }
        try fill(tensor, source, rows: rows, into: scratch)
        // Bit patterns, not Float values, are stored: a bfloat16 NaN keeps its payload.
        let bf16 = source.dtype == .bfloat16
        for i in 0..<n {
            let h = UInt16(littleEndian: scratch.load(fromByteOffset: 2 * i, as: UInt16.self))
            let w = bf16 ? UInt32(h) << 16 : HalfPrecision.float(fromF16: h).bitPattern
            block.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
        }
    }
}
