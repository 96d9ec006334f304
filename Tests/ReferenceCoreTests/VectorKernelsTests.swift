import CVectorMath
import Foundation
import Testing

@testable import ReferenceCore

/// The C elementwise kernels (`ckpt_vector_kernels`), each build this CPU can run (the baseline,
/// and AVX2 + FMA when present), against Float64 evaluations of the same formulas, over and
/// beyond the clamped ranges, with a partial last vector.
@Suite struct VectorKernelsTests {
    /// Inputs from −100 to 100 in uneven steps; 20 003 of them, so the last vector is partial.
    static let inputs: [Float] = (0..<20_003).map { i in -100 + Float(i) * 0.01 }

    /// The builds to test.
    static var variants: [Int32] { ckpt_vector_kernels_variant(1) == nil ? [0] : [0, 1] }

    static func kernels(_ which: Int32) -> ckpt_vector_kernels { ckpt_vector_kernels_variant(which)!.pointee }

    static func geluTanh(_ x: Double) -> (value: Double, derivative: Double) {
        let k0 = (2 / Double.pi).squareRoot(), k1 = 0.044715
        let t = Foundation.tanh(k0 * (x + k1 * x * x * x))
        return (0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k0 * (1 + 3 * k1 * x * x))
    }

    @Test func theFastestBuildThisCPURunsIsChosen() {
        #expect(ckpt_vector_kernels_best() == (ckpt_vector_kernels_variant(1) ?? ckpt_vector_kernels_variant(0)!))
    }

    @Test(arguments: variants) func expMatchesLibmWithinFourUlp(which: Int32) {
        var row = Self.inputs
        let sum = row.withUnsafeMutableBufferPointer { Self.kernels(which).exp_sum($0.baseAddress!, $0.count, 0, 1) }
        var want = 0.0
        for (x, y) in zip(Self.inputs, row) {
            let e = Foundation.exp(Double(x))
            want += Double(y)
            if x < -87.3 {
                #expect(y > 0 && y < 1.3e-38, "exp(\(x)) = \(y)")
            } else if x > 88.3 {
                #expect(y.isFinite && y > 2e38, "exp(\(x)) = \(y)")
            } else {
                #expect(abs(Double(y) - e) <= 4 * Double(Float.ulpOfOne) * e, "exp(\(x)) = \(y), want \(e)")
            }
        }
        #expect(abs(sum - want) <= 1e-12 * want, "Σ \(sum), want \(want)")
    }

    @Test(arguments: variants) func expSumWithoutWriteLeavesTheRowAndShifts(which: Int32) {
        var row: [Float] = (0..<13).map { Float($0) * 0.25 }
        let before = row
        let sum = row.withUnsafeMutableBufferPointer { Self.kernels(which).exp_sum($0.baseAddress!, $0.count, 3, 0) }
        #expect(row == before)
        let want = before.reduce(0.0) { $0 + Foundation.exp(Double($1) - 3) }
        #expect(abs(sum - want) <= 1e-6 * want)
    }

    @Test(arguments: variants) func rowMaxAndScale(which: Int32) {
        let k = Self.kernels(which)
        for count in [1, 7, 8, 9, 50_257] {
            var row = (0..<count).map { Float(($0 * 7919) % 1000) - 500 }
            row[count / 2] = 777
            #expect(row.withUnsafeBufferPointer { k.row_max($0.baseAddress!, count) } == 777)
            row.withUnsafeMutableBufferPointer { k.scale($0.baseAddress!, count, 0.5) }
            #expect(row[count / 2] == 388.5)
        }
    }

    @Test(arguments: variants) func geluTanhForwardAndBackward(which: Int32) {
        let k = Self.kernels(which)
        var out = [Float](repeating: .nan, count: Self.inputs.count)
        var grad = [Float](repeating: 2, count: Self.inputs.count)
        Self.inputs.withUnsafeBufferPointer { u in
            out.withUnsafeMutableBufferPointer { k.gelu_tanh_forward(u.baseAddress!, $0.baseAddress!, u.count) }
            grad.withUnsafeMutableBufferPointer { k.gelu_tanh_backward(u.baseAddress!, $0.baseAddress!, u.count) }
        }
        for (i, x) in Self.inputs.enumerated() {
            let (v, d) = Self.geluTanh(Double(x))
            #expect(abs(Double(out[i]) - v) <= 1e-6 * max(abs(v), 1), "gelu(\(x)) = \(out[i]), want \(v)")
            // The derivative's 1 − t² cancels where |t| → 1: one ulp of t (6·10⁻⁸) times
            // ½·|x|·√(2/π)(1 + 0.134x²), up to ~30 near |x| = 8, gives ~4·10⁻⁶ there, as good as an
            // fp32 evaluation of the formula gets (PyTorch's fp32 kernel has the same term).
            #expect(abs(Double(grad[i]) / 2 - d) <= 5e-6 * max(abs(d), 1), "gelu′(\(x)) = \(grad[i] / 2), want \(d)")
        }
    }

    @Test(arguments: variants) func sumOfSquaresFollowsTheDocumentedOrder(which: Int32) {
        // Values whose squares differ by many orders of magnitude, so another order changes bits.
        let x: [Float] = (0..<1_037).map { i in Float(i % 7 == 0 ? 3e3 : 1e-3) * (1 + Float(i) * 1e-3) }
        var lanes = [Double](repeating: 0, count: 16)
        let full = x.count - x.count % 16
        for i in 0..<full { lanes[i % 16] += Double(x[i]) * Double(x[i]) }
        var want = 0.0
        for l in lanes { want += l }
        for i in full..<x.count { want += Double(x[i]) * Double(x[i]) }
        let got = x.withUnsafeBufferPointer { Self.kernels(which).sum_of_squares($0.baseAddress!, $0.count) }
        #expect(got.bitPattern == want.bitPattern, "\(got) vs \(want)")
    }
}
