import CVectorMath

/// Float64 reductions with a fixed summation order (blocks of 65 536 elements summed in
/// order), so results do not depend on the number of cores.
public enum Reductions {
    static let block = 1 << 16

    /// Σ f(i) over `0..<count`, evaluated per block in parallel, blocks added in index order.
    static func blockSum(_ count: Int, _ f: @Sendable (Range<Int>) -> Double) -> Double {
        let blocks = (count + block - 1) / block
        if blocks <= 1 { return count == 0 ? 0 : f(0..<count) }
        let partial = ScalarBuffer<Double>(count: blocks)
        let pp = SharedPointer(partial.pointer)
        Parallel.forRanges(blocks, grain: 1) { r in
            for b in r { pp.p[b] = f((b * block)..<min(count, (b + 1) * block)) }
        }
        var s = 0.0
        for b in 0..<blocks { s += partial[b] }
        return s
    }

    /// Σ x² of Float values, in Float64: each block in sixteen interleaved lanes (element i in
    /// lane i mod 16 of its block, lanes then added in order, a short tail last), by the
    /// CVectorMath kernel (AVX2 where the CPU has it; the same bits either way).
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        let xp = SharedPointer(UnsafeMutablePointer(mutating: x))
        return blockSum(count) { r in
            ckpt_vector_kernels_best().pointee.sum_of_squares(xp.p + r.lowerBound, r.count)
        }
    }
}

extension Reductions {
    /// The global L2 norm of every tensor held in `gradients`, accumulated in Float64 tensor by
    /// tensor in canonical order.
    public static func globalNorm(_ gradients: TensorBuffers<Float>) -> Double {
        globalNorm(gradients, known: [:])
    }

    /// `globalNorm`, taking each tensor's Σ x² from `known` when present (computed earlier by
    /// `sumOfSquares`, so the result is the same).
    static func globalNorm(_ gradients: TensorBuffers<Float>, known: [String: Double]) -> Double {
        var s = 0.0
        for name in gradients.names {
            if let k = known[name] {
                s += k
                continue
            }
            guard let b = gradients[name] else { continue }
            s += sumOfSquares(b.pointer, count: b.count)
        }
        return s.squareRoot()
    }
}

extension Reductions {
    /// Eight Float64 sums at once: `f` returns the partial sums of one block; blocks are added
    /// in index order.
    static func blockSums(_ count: Int, _ f: @Sendable (Range<Int>) -> SIMD8<Double>) -> SIMD8<Double> {
        let blocks = (count + block - 1) / block
        if blocks <= 1 { return count == 0 ? .zero : f(0..<count) }
        let partial = UnsafeMutablePointer<SIMD8<Double>>.allocate(capacity: blocks)
        defer { partial.deallocate() }
        let pp = SharedPointer(partial)
        Parallel.forRanges(blocks, grain: 1) { r in
            for b in r { pp.p[b] = f((b * block)..<min(count, (b + 1) * block)) }
        }
        var s = SIMD8<Double>.zero
        for b in 0..<blocks { s += partial[b] }
        return s
    }

    /// The largest `f(i)` over `0..<count` and its lowest index (NaN counts as +∞).
    static func argmax(_ count: Int, _ f: @Sendable (Int) -> Double) -> (value: Double, index: Int) {
        let blocks = max(1, (count + block - 1) / block)
        let vals = ScalarBuffer<Double>(count: blocks)
        let idx = UnsafeMutablePointer<Int>.allocate(capacity: blocks)
        defer { idx.deallocate() }
        idx.initialize(repeating: 0, count: blocks)
        let vp = SharedPointer(vals.pointer), ip = SharedPointer(idx)
        Parallel.forRanges(blocks, grain: 1) { r in
            for b in r {
                var best = -Double.infinity, at = b * block
                for i in (b * block)..<min(count, (b + 1) * block) {
                    var v = f(i)
                    if v.isNaN { v = .infinity }
                    if v > best {
                        best = v
                        at = i
                    }
                }
                vp.p[b] = best
                ip.p[b] = at
            }
        }
        var best = -Double.infinity, at = 0
        for b in 0..<blocks where vals[b] > best {
            best = vals[b]
            at = idx[b]
        }
        return (best, at)
    }
}
