import CheckpointStore

/// Fills one row block of a planned output tensor (one section) from the source: the block is
/// zeroed (padding rows stay zero) and every piece overlapping it is copied in from the shared
/// `SourceWindowCache`.
struct BlockFiller {
    let cache: SourceWindowCache

    /// The source rows that `fill` will read for rows `rows` of `tensor`'s `section`.
    func requests(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>) -> [SourceWindowCache.Request] {
        var out: [SourceWindowCache.Request] = []
        for p in tensor.pieces {
            let lo = max(rows.lowerBound, p.destRow), hi = min(rows.upperBound, p.destRows.upperBound)
            if hi <= lo { continue }
            let srcLo = p.sourceRows.lowerBound + lo - p.destRow
            out.append(.init(file: p.source, tensor: TensorKey(section: section.section, name: p.sourceTensor), rows: srcLo..<srcLo + (hi - lo)))
        }
        return out
    }

    /// Writes rows `rows` of `tensor`'s `section` into `block` (row-major, `rows.count` rows of
    /// the target's columns).
    func fill(_ tensor: PlannedTensor, _ section: SectionDType, rows: Range<Int>, into block: UnsafeMutableRawPointer) throws(ShardingError) {
        let es = section.dtype.size
        let rowBytes = tensor.target.cols * es
        block.initializeMemory(as: UInt8.self, repeating: 0, count: rows.count * rowBytes)
        for p in tensor.pieces {
            let lo = max(rows.lowerBound, p.destRow), hi = min(rows.upperBound, p.destRows.upperBound)
            if hi <= lo { continue }
            let srcLo = p.sourceRows.lowerBound + lo - p.destRow
            try cache.copy(
                p.source, TensorKey(section: section.section, name: p.sourceTensor), rows: srcLo..<srcLo + (hi - lo),
                cols: p.sourceCols, into: block + (lo - rows.lowerBound) * rowBytes + p.destCol * es, rowStride: rowBytes)
        }
    }
}
