import Containers

extension PlanPiece {
    /// Number of core dimensions (see `PlanPiece`).
    var coreRank: Int { min(sourceBox.offsets.count, destBox.offsets.count) }

    /// The source dimension holding output dimension `d`, or nil when `d` is a leading
    /// dimension of extent 1 without counterpart.
    func sourceDimension(ofDest d: Int) -> Int? {
        Self.counterpart(d, from: destBox.offsets.count, to: sourceBox.offsets.count, core: coreRank, transposed: transposed)
    }

    /// The output dimension holding source dimension `d`, or nil (see `sourceDimension`).
    func destDimension(ofSource d: Int) -> Int? {
        Self.counterpart(d, from: sourceBox.offsets.count, to: destBox.offsets.count, core: coreRank, transposed: transposed)
    }

    private static func counterpart(_ d: Int, from: Int, to: Int, core k: Int, transposed: Bool) -> Int? {
        let c = d - (from - k)
        guard c >= 0 else { return nil }
        var m = c
        if transposed && k >= 2 {
            if c == k - 1 { m = k - 2 } else if c == k - 2 { m = k - 1 }
        }
        return (to - k) + m
    }

    /// The part of this piece whose output indices in dimension `d` lie in `range`, or nil.
    func restricted(destDimension d: Int, to range: Range<Int>) -> PlanPiece? {
        guard d < destBox.offsets.count else { return range.contains(0) ? self : nil }
        let lo = max(range.lowerBound, destBox.offsets[d]), hi = min(range.upperBound, destBox.offsets[d] + destBox.sizes[d])
        guard hi > lo else { return nil }
        var p = self
        if let s = sourceDimension(ofDest: d) {
            p.sourceBox.offsets[s] += lo - destBox.offsets[d]
            p.sourceBox.sizes[s] = hi - lo
        }
        p.destBox.offsets[d] = lo
        p.destBox.sizes[d] = hi - lo
        return p
    }

    /// The part of this piece whose source indices in dimension `d` lie in `range`, or nil.
    func restricted(sourceDimension d: Int, to range: Range<Int>) -> PlanPiece? {
        guard d < sourceBox.offsets.count else { return range.contains(0) ? self : nil }
        let lo = max(range.lowerBound, sourceBox.offsets[d]), hi = min(range.upperBound, sourceBox.offsets[d] + sourceBox.sizes[d])
        guard hi > lo else { return nil }
        var p = self
        if let o = destDimension(ofSource: d) {
            p.destBox.offsets[o] += lo - sourceBox.offsets[d]
            p.destBox.sizes[o] = hi - lo
        }
        p.sourceBox.offsets[d] = lo
        p.sourceBox.sizes[d] = hi - lo
        return p
    }

    /// The part of this piece writing output rows (dimension 0) `rows`, or nil.
    public func restricted(destRows rows: Range<Int>) -> PlanPiece? { restricted(destDimension: 0, to: rows) }

    /// The part of this piece reading source rows (dimension 0) `rows`, or nil.
    public func restricted(sourceRows rows: Range<Int>) -> PlanPiece? { restricted(sourceDimension: 0, to: rows) }

    /// The part of this piece writing inside the output box `box`, or nil.
    public func restricted(toDest box: TensorBox) -> PlanPiece? {
        var p: PlanPiece? = self
        for d in 0..<box.offsets.count {
            p = p?.restricted(destDimension: d, to: box.offsets[d]..<box.offsets[d] + box.sizes[d])
        }
        return p
    }
}

extension TensorBox {
    /// The index range of dimension `d` (`0..<1` for a dimension the box does not have).
    func dimensionRange(_ d: Int) -> Range<Int> {
        d < offsets.count ? offsets[d]..<offsets[d] + sizes[d] : 0..<1
    }

    /// The common part of two boxes of the same rank, or nil when it is empty.
    func overlap(with other: TensorBox) -> TensorBox? {
        guard other.offsets.count == offsets.count else { return nil }
        var o: [Int] = [], s: [Int] = []
        for d in 0..<offsets.count {
            let lo = Swift.max(offsets[d], other.offsets[d])
            let hi = Swift.min(offsets[d] + sizes[d], other.offsets[d] + other.sizes[d])
            if hi <= lo { return nil }
            o.append(lo)
            s.append(hi - lo)
        }
        return TensorBox(offsets: o, sizes: s)
    }

    /// The box moved by `-origin` (coordinates relative to a box starting at `origin`).
    func relative(to origin: [Int]) -> TensorBox {
        TensorBox(offsets: zip(offsets, origin).map { $0 - $1 }, sizes: sizes)
    }
}
