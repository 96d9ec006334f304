/// Checks that a tensor's chunks tile its global shape exactly: every box lies inside the
/// shape, no two boxes share an element, and together they hold every element. An N-d sweep
/// along the dimension with the most distinct chunk offsets compares only boxes that meet in
/// that dimension; the comparisons are bounded by `DCPLimits.maxOverlapComparisons`.
public enum DCPChunkGeometry {
    /// Throws `.badTensor` naming `path` and the tensor when the chunks of `t` do not tile it.
    public static func check(_ t: DCPTensorEntry, path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) {
        try check(fqn: t.fqn, shape: t.shape, boxes: t.chunks.map(\.box), path: path, limits: limits)
    }

    /// The same for a bare list of boxes (a write plan).
    public static func check(fqn: String, shape: [Int], boxes: [TensorBox], path: String, limits: DCPLimits = DCPLimits()) throws(ContainerError) {
        func bad(_ d: String) -> ContainerError { .badTensor(path: path, tensor: PrintableName.of(fqn), detail: d) }
        var total = 1
        for n in shape {
            let (p, o) = total.multipliedReportingOverflow(by: n)
            guard !o else { throw bad("global shape \(shape) overflows") }
            total = p
        }
        var held = 0
        var live: [Int] = []
        for (i, b) in boxes.enumerated() {
            guard b.offsets.count == shape.count, b.fits(shape) else {
                throw bad("chunk \(b) lies outside the global shape \(shape)")
            }
            let n = b.count
            if n > 0 { live.append(i) }
            let (s, o) = held.addingReportingOverflow(n)
            guard !o else { throw bad("its chunks hold more elements than fit in an Int") }
            held = s
        }
        if shape.isEmpty {
            if boxes.count > 1 { throw bad("a scalar stored in \(boxes.count) chunks (chunks overlap)") }
        } else {
            try checkOverlaps(boxes, live: live, rank: shape.count, limits: limits, bad: bad)
        }
        guard held == total else {
            throw bad("its chunks leave gaps: they hold \(held) of its \(total) elements (global shape \(shape))")
        }
    }

    /// Throws when two non-empty boxes of `live` share an element.
    static func checkOverlaps(
        _ boxes: [TensorBox], live: [Int], rank: Int, limits: DCPLimits, bad: (String) -> ContainerError
    ) throws(ContainerError) {
        guard live.count > 1 else { return }
        // Sweep along the dimension whose chunks start at the most distinct offsets.
        var sweep = 0, best = -1
        for d in 0..<rank {
            let distinct = Set(live.map { boxes[$0].offsets[d] }).count
            if distinct > best {
                best = distinct
                sweep = d
            }
        }
        let order = live.sorted { boxes[$0].offsets[sweep] < boxes[$1].offsets[sweep] }
        var active: [Int] = []
        var comparisons = 0
        for i in order {
            let b = boxes[i]
            let start = b.offsets[sweep]
            active.removeAll { boxes[$0].offsets[sweep] + boxes[$0].sizes[sweep] <= start }
            for j in active {
                comparisons += 1
                guard comparisons <= limits.maxOverlapComparisons else {
                    throw bad("\(live.count) chunks need more than \(limits.maxOverlapComparisons) comparisons to check for overlaps")
                }
                let a = boxes[j]
                var meet = true
                for d in 0..<rank where max(a.offsets[d], b.offsets[d]) >= min(a.offsets[d] + a.sizes[d], b.offsets[d] + b.sizes[d]) {
                    meet = false
                    break
                }
                if meet { throw bad("chunks \(a) and \(b) overlap") }
            }
            active.append(i)
        }
    }
}
