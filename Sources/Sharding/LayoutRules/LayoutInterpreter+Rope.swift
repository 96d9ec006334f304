import Containers

extension LayoutInterpreter {
    /// `t` with the rows of each attention head stored in `order` (`LayoutRule.rope`): every
    /// segment is cut into one-row segments, canonical row c of a head placed at the stored row
    /// `order.storedRow(ofCanonicalRow:)` of the same head of the local tensor.
    ///
    /// Each segment must cover whole heads (`headDim` rows, starting at a head boundary) of a
    /// 2-D canonical tensor, not transposed; otherwise the rule does not fit the model.
    static func ropeOrdered(_ t: LocalTensor, _ order: RopeOrder, headDim: Int) throws(ShardingError) -> LocalTensor {
        guard headDim >= 2, headDim % 2 == 0 else {
            throw .layoutMismatch("\(t.name): rope '\(order.rawValue)' needs an even head dimension, got \(headDim)")
        }
        var out = t
        var segments: [TensorSegment] = []
        for s in t.segments {
            let box = s.canonicalBox
            guard box.offsets.count == 2, !s.transposed else {
                throw .layoutMismatch("\(t.name): rope '\(order.rawValue)' applies to untransposed 2-D weights, not \(s.canonical) box \(box)")
            }
            guard box.offsets[0] % headDim == 0, box.sizes[0] % headDim == 0 else {
                throw .layoutMismatch(
                    "\(t.name): rope '\(order.rawValue)' permutes whole heads of \(headDim) rows, but it holds rows \(box.offsets[0])..<\(box.offsets[0] + box.sizes[0]) of \(s.canonical)"
                )
            }
            let lead = s.localOffsets.count - 2
            for c in 0..<box.sizes[0] {
                let head = c / headDim
                let stored = head * headDim + order.storedRow(ofCanonicalRow: c % headDim, headDim: headDim)
                var local = s.localOffsets
                local[lead] += stored
                segments.append(
                    TensorSegment(
                        canonical: s.canonical, canonicalBox: TensorBox(offsets: [box.offsets[0] + c, box.offsets[1]], sizes: [1, box.sizes[1]]),
                        localOffsets: local))
            }
        }
        out.segments = segments
        return out
    }
}
