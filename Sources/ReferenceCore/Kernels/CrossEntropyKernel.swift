import CVectorMath

/// Mean cross-entropy over the targets that are not -1, computed from logits in place.
enum CrossEntropyKernel {
    /// Returns the mean loss (Float64: each row's log-sum-exp is accumulated in Float64 and the
    /// row losses are summed in row order). When `gradient` is true, overwrites `logits` with
    /// ∂loss/∂logits = (softmax − onehot)/count (zero rows for ignored targets).
    static func lossAndGradient<T: ReferenceScalar>(
        logits: UnsafeMutablePointer<T>, targets: [Int32], rows: Int, vocab: Int, gradient: Bool
    ) -> Double {
        if T.self == Float.self {
            return lossAndGradientFloat(
                logits: UnsafeMutableRawPointer(logits).assumingMemoryBound(to: Float.self), targets: targets, rows: rows, vocab: vocab,
                gradient: gradient)
        }
        return meanOverRows(logits: logits, targets: targets, rows: rows, vocab: vocab, gradient: gradient) { row, target, inv in
            var mx = row[0]
            for j in 1..<max(vocab, 1) where row[j] > mx { mx = row[j] }
            let zt = row[target]
            var s: Double = 0
            if gradient {
                for j in 0..<vocab {
                    let e = T.exp(row[j] - mx)
                    row[j] = e
                    s += Double(e)
                }
            } else {
                for j in 0..<vocab { s += Double(T.exp(row[j] - mx)) }
            }
            if gradient {
                let scale = T(1 / s) * T(inv)
                for j in 0..<vocab { row[j] *= scale }
                row[target] -= T(inv)
            }
            return Double.log(s) + Double(mx) - Double(zt)
        }
    }

    /// The loop both passes share: one row per index (iterations write disjoint rows), ignored
    /// targets give zero gradient rows, `rowLoss(row, target, 1/count)` returns a row's loss (and
    /// writes its gradient when asked); the mean sums row losses in row order, in Float64.
    private static func meanOverRows<T>(
        logits: UnsafeMutablePointer<T>, targets: [Int32], rows: Int, vocab: Int, gradient: Bool,
        rowLoss: @escaping @Sendable (UnsafeMutablePointer<T>, Int, Double) -> Double
    ) -> Double {
        let count = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        let losses = ScalarBuffer<Double>(count: rows)
        let lp = SharedPointer(logits), rl = SharedPointer(losses.pointer)
        let inv = 1.0 / Double(max(count, 1))
        targets.withUnsafeBufferPointer { tb in
            let tp = SharedPointer(UnsafeMutablePointer(mutating: tb.baseAddress!))
            Parallel.forRanges(rows, grain: 1) { r in
                for i in r {
                    let row = lp.p + i * vocab
                    let target = Int(tp.p[i])
                    if target < 0 {
                        // All-zero bytes are +0 for Float and Double.
                        if gradient { UnsafeMutableRawPointer(row).initializeMemory(as: UInt8.self, repeating: 0, count: vocab * MemoryLayout<T>.stride) }
                        rl.p[i] = 0
                        continue
                    }
                    rl.p[i] = rowLoss(row, target, inv)
                }
            }
        }
        var total: Double = 0
        for i in 0..<rows { total += losses[i] }
        return total / Double(max(count, 1))
    }

    /// The fp32 pass through CVectorMath (8 lanes, AVX2 + FMA where the CPU has them): row max,
    /// Σ eᶻ⁻ᵐᵃˣ accumulated in four Float64 lanes (the tail added last, a fixed order), scaling.
    static func lossAndGradientFloat(logits: UnsafeMutablePointer<Float>, targets: [Int32], rows: Int, vocab: Int, gradient: Bool) -> Double {
        meanOverRows(logits: logits, targets: targets, rows: rows, vocab: vocab, gradient: gradient) { row, target, invCount in
            let k = ckpt_vector_kernels_best().pointee
            let inv = Float(invCount)
            let mx = k.row_max(row, vocab)
            let zt = row[target]
            let s = k.exp_sum(row, vocab, mx, gradient ? 1 : 0)
            if gradient {
                k.scale(row, vocab, Float(1 / s) * inv)
                row[target] -= inv
            }
            return Double.log(s) + Double(mx) - Double(zt)
        }
    }
}
