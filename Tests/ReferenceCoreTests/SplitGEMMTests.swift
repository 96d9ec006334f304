import Testing

@testable import ReferenceCore

/// `Float.gemm` (split across the cores above `SplitGEMM.minimumWork`) against a Float64
/// reference, for every transpose combination, wide and tall C, padded leading dimensions and
/// beta = 0 / 1.
@Suite struct SplitGEMMTests {
    /// Row-major op(X)[i, j] of a stored matrix with leading dimension ld.
    static func element(_ x: [Float], _ trans: Bool, _ i: Int, _ j: Int, _ ld: Int) -> Double {
        Double(trans ? x[j * ld + i] : x[i * ld + j])
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)], [(96, 320, 150), (330, 64, 120)])
    func splitProductMatchesTheReference(trans: (Bool, Bool), dims: (Int, Int, Int)) {
        let (ta, tb) = trans, (m, n, k) = dims
        #expect(m * n * k >= SplitGEMM.minimumWork)  // the split path runs
        // Stored shapes: A is m×k (k×m when transposed), B is k×n (n×k); one spare column each.
        let lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 1, ldc = n + 3
        var rng = SplitMix(7)
        let a = (0..<((ta ? k : m) * lda)).map { _ in Float(rng.symmetric()) }
        let b = (0..<((tb ? n : k) * ldb)).map { _ in Float(rng.symmetric()) }
        let c0 = (0..<(m * ldc)).map { _ in Float(rng.symmetric()) }
        for beta: Float in [0, 1] {
            var c = c0
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        Float.gemm(
                            transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                            b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                    }
                }
            }
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<ldc {
                    if j >= n {
                        #expect(c[i * ldc + j] == c0[i * ldc + j], "padding column \(j) of row \(i) was written")
                        continue
                    }
                    var s = 0.0
                    for p in 0..<k { s += Self.element(a, ta, i, p, lda) * Self.element(b, tb, p, j, ldb) }
                    let want = 0.5 * s + Double(beta) * Double(c0[i * ldc + j])
                    worst = max(worst, abs(Double(c[i * ldc + j]) - want))
                }
            }
            #expect(worst < 1e-4, "max |error| \(worst) (trans \(ta), \(tb), \(m)x\(n)x\(k), beta \(beta))")
        }
    }
}
