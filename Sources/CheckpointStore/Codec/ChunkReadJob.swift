import CHDF5

/// One chunk of a read: its raw bytes as stored, then decoded into the output by a worker.
///
/// `@unchecked Sendable`: filled by the reading thread, then touched by exactly one worker
/// between `DispatchGroup.enter` and `leave`, then inspected by the reading thread after `wait()`.
final class ChunkReadJob: @unchecked Sendable {
    /// Grid origin of the chunk, in elements.
    let origin: [Int]
    /// The stored bytes (nil for a chunk never written: it reads as the fill value).
    var raw: UnsafeMutableRawPointer?
    var rawCount = 0
    /// File offset of the stored chunk.
    var address: UInt64 = 0
    var rawOwned = false
    var mask: UInt32 = 0
    var failure: String?

    init(origin: [Int]) { self.origin = origin }
}

/// Where a read's output goes and how a chunk maps into it.
///
/// `@unchecked Sendable`: workers write disjoint output regions (distinct chunks cover
/// distinct elements).
struct ReadGeometry: @unchecked Sendable {
    let out: UnsafeMutableRawPointer
    let selection: [DimSelection]
    let shape: [Int]
    let chunk: [Int]
    let elementSize: Int
    let outStrides: [Int]
    let chunkStrides: [Int]

    init(out: UnsafeMutableRawPointer, selection: [DimSelection], shape: [Int], chunk: [Int], elementSize: Int) {
        self.out = out
        self.selection = selection
        self.shape = shape
        self.chunk = chunk
        self.elementSize = elementSize
        var os = [Int](repeating: elementSize, count: shape.count)
        var cs = os
        for k in stride(from: shape.count - 2, through: 0, by: -1) {
            os[k] = os[k + 1] * selection[k + 1].count
            cs[k] = cs[k + 1] * chunk[k + 1]
        }
        outStrides = os
        chunkStrides = cs
    }

    /// Selected index range `[lo, hi)` (in selection units) that falls in the chunk at `origin`
    /// along dimension `k`.
    func selectedRange(_ k: Int, origin o: Int) -> Range<Int> {
        let s = selection[k]
        let end = min(o + chunk[k], shape[k])
        let lo = o <= s.start ? 0 : (o - s.start + s.stride - 1) / s.stride
        let hiExclusive = end <= s.start ? 0 : min(s.count, (end - 1 - s.start) / s.stride + 1)
        return lo..<max(lo, hiExclusive)
    }

    /// If the chunk at `origin` is entirely selected (no padding, stride 1) and lands as one
    /// contiguous run of the output, the output address of that run.
    func directTarget(origin: [Int]) -> UnsafeMutableRawPointer? {
        var offset = 0
        var m = -1
        for k in 0..<shape.count {
            let s = selection[k]
            if s.stride != 1 && s.count > 1 { return nil }
            if origin[k] + chunk[k] > shape[k] { return nil }
            if origin[k] < s.start || origin[k] + chunk[k] > s.start + s.count { return nil }
            offset += (origin[k] - s.start) * outStrides[k]
            if chunk[k] > 1 && m < 0 { m = k }
        }
        // Contiguous when, after the first dimension the chunk spans more than one index of,
        // it covers the output's whole extent.
        if m >= 0 {
            for k in (m + 1)..<shape.count where chunk[k] != selection[k].count { return nil }
        }
        return out + offset
    }

    /// Copies the selected part of a decoded chunk (C order over `chunk`) into the output.
    func scatter(decoded: UnsafeRawPointer, origin: [Int]) {
        let rank = shape.count
        let ranges = (0..<rank).map { selectedRange($0, origin: origin[$0]) }
        if ranges.contains(where: { $0.isEmpty }) { return }
        var idx = ranges.map(\.lowerBound)
        let last = rank - 1
        let innerSel = selection[last]
        while true {
            var src = 0, dst = 0
            for k in 0..<last {
                src += (selection[k].start + idx[k] * selection[k].stride - origin[k]) * chunkStrides[k]
                dst += idx[k] * outStrides[k]
            }
            let r = ranges[last]
            let firstSrc = (innerSel.start + r.lowerBound * innerSel.stride - origin[last]) * elementSize
            if innerSel.stride == 1 {
                (out + dst + r.lowerBound * elementSize).copyMemory(from: decoded + src + firstSrc, byteCount: r.count * elementSize)
            } else {
                var s = src + firstSrc
                var d = dst + r.lowerBound * elementSize
                let step = innerSel.stride * elementSize
                for _ in r {
                    (out + d).copyMemory(from: decoded + s, byteCount: elementSize)
                    s += step
                    d += elementSize
                }
            }
            // Advance the outer indices in C order.
            var k = last - 1
            while k >= 0 {
                idx[k] += 1
                if idx[k] < ranges[k].upperBound { break }
                idx[k] = ranges[k].lowerBound
                k -= 1
            }
            if k < 0 { return }
        }
    }
}
