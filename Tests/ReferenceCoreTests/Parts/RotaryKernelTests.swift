import Foundation
import Testing

@testable import ReferenceCore

/// Rotary embedding on its own: the rotate-half pairing on the first `dimensions` of each head
/// (transformers' `apply_rotary_pos_emb`), written here as complex multiplication, its
/// backward as the transpose, and the property rotary exists for: q·k depends only on the
/// distance of the two positions.
@Suite struct RotaryKernelTests {
    /// Rotated dimensions of a head of 8.
    static let rotated = [8, 4, 2]

    @Test(arguments: rotated)
    func rotationIsComplexMultiplicationOnTheFirstHalfPairedWithTheSecond(_ d: Int) {
        let hd = 8
        let seq = 5, rows = 2 * seq, heads = 3, theta = 500.0
        let kernel = RotaryKernel<Double>(seq: seq, headDim: hd, dimensions: d, theta: theta)
        var rng = SplitMix(4)
        let x = (0..<(rows * heads * hd)).map { _ in rng.symmetric() }
        let y = ScalarBuffer(x)
        kernel.rotate(y.pointer, rows: rows, heads: heads)
        for i in 0..<rows {
            let p = Double(i % seq)
            for h in 0..<heads {
                let base = i * heads * hd + h * hd
                for j in 0..<(d / 2) {
                    let angle = p * pow(theta, -Double(2 * j) / Double(d))
                    // (a + ib)·e^{iφ}: the pair (j, j + d/2) as real and imaginary part.
                    let a = x[base + j], b = x[base + j + d / 2]
                    #expect(abs(y[base + j] - (a * cos(angle) - b * sin(angle))) < 1e-12)
                    #expect(abs(y[base + j + d / 2] - (a * sin(angle) + b * cos(angle))) < 1e-12)
                }
                for j in d..<hd { #expect(y[base + j] == x[base + j], "dimension \(j) must pass through") }
            }
        }
    }

    @Test(arguments: rotated)
    func backwardIsTheTransposeAndUndoesTheRotation(_ d: Int) {
        let hd = 8
        let seq = 4, rows = 8, heads = 2, n = rows * heads * hd
        let kernel = RotaryKernel<Double>(seq: seq, headDim: hd, dimensions: d, theta: 10000)
        var rng = SplitMix(9)
        let x = (0..<n).map { _ in rng.symmetric() }, g = (0..<n).map { _ in rng.symmetric() }
        let rx = ScalarBuffer(x), bg = ScalarBuffer(g)
        kernel.rotate(rx.pointer, rows: rows, heads: heads)
        kernel.rotateBack(bg.pointer, rows: rows, heads: heads)
        // ⟨R x, g⟩ = ⟨x, Rᵀ g⟩.
        let lhs = zip(rx.array, g).map { $0 * $1 }.reduce(0, +), rhs = zip(x, bg.array).map { $0 * $1 }.reduce(0, +)
        #expect(abs(lhs - rhs) < 1e-12)
        kernel.rotateBack(rx.pointer, rows: rows, heads: heads)
        #expect(TestModels.relativeL2(rx.array, x) < 1e-14)
    }

    @Test func rotatedDotProductDependsOnlyOnTheDistance() {
        let hd = 8, seq = 6
        let kernel = RotaryKernel<Double>(seq: seq, headDim: hd, dimensions: hd, theta: 10000)
        var rng = SplitMix(2)
        let q = (0..<hd).map { _ in rng.symmetric() }, k = (0..<hd).map { _ in rng.symmetric() }
        // Every row holds q (or k); row i is at position i.
        let qs = ScalarBuffer(Array((0..<seq).map { _ in q }.joined())), ks = ScalarBuffer(Array((0..<seq).map { _ in k }.joined()))
        kernel.rotate(qs.pointer, rows: seq, heads: 1)
        kernel.rotate(ks.pointer, rows: seq, heads: 1)
        func dot(_ i: Int, _ j: Int) -> Double { (0..<hd).map { qs[i * hd + $0] * ks[j * hd + $0] }.reduce(0, +) }
        #expect(abs(dot(3, 1) - dot(4, 2)) < 1e-12 && abs(dot(3, 1) - dot(5, 3)) < 1e-12)
        #expect(abs(dot(3, 1) - dot(3, 2)) > 1e-6, "the distance must matter")
    }

    @Test func float32TablesAreTheFloat64AnglesRoundedAsTransformersDoes() {
        let seq = 64, hd = 64, d = 16
        let f = RotaryKernel<Float>(seq: seq, headDim: hd, dimensions: d, theta: 10000)
        let g = RotaryKernel<Double>(seq: seq, headDim: hd, dimensions: d, theta: 10000)
        var worst = 0.0
        for i in 0..<(seq * d / 2) {
            worst = max(worst, abs(Double(f.cos[i]) - g.cos[i]), abs(Double(f.sin[i]) - g.sin[i]))
        }
        // float32 inv_freq and p·inv_freq: angle errors of a few ulps of p·inv_freq (≤ 63 rad).
        #expect(worst < 2e-5, "float32 tables differ from Float64 by \(worst)")
        #expect(worst > 0, "the float32 tables are expected to carry float32 rounding")
    }
}
