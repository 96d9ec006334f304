/// Running totals of one tensor's comparison across its row blocks.
struct TensorAccumulator {
    /// State sums for exp_avg and exp_avg_sq.
    var stateSums: [SIMD8<Double>] = [.zero, .zero]
    /// Non-finite (or negative second moment) seen, for noise-only tensors.
    var stateBad = [false, false]
    /// Update sums.
    var updateSums = SIMD8<Double>.zero
    /// Elements seen.
    var count = 0
    /// Worst element of the bound check: value, flat index, after, reference, before.
    var worst: (value: Double, index: Int, b: Float, ref: Float, a: Float) = (-.infinity, -1, 0, 0, 0)
    /// Worst rounding distance and its flat index.
    var rounding = Worst()

    /// A running maximum with its index.
    struct Worst {
        var value = 0.0
        var index = -1
        mutating func merge(_ w: (value: Double, index: Int), offset: Int) {
            if w.value > value || index < 0 {
                value = w.value
                index = w.index + offset
            }
        }
    }
}
