/// The gated MLP activation of LLaMA: a = silu(g) · u with silu(g) = g/(1 + e^(−g)), on the
/// gate and up projections g, u (`down(silu(gate x) · up x)`).
enum SwiGLUKernel {
    /// a[i] = silu(g[i]) · u[i], in transformers' order (silu first, then the product).
    static func forward<T: ReferenceScalar>(gate g: UnsafePointer<T>, up u: UnsafePointer<T>, out a: UnsafeMutablePointer<T>, count: Int) {
        let gp = SharedPointer(UnsafeMutablePointer(mutating: g)), up = SharedPointer(UnsafeMutablePointer(mutating: u))
        let ap = SharedPointer(a)
        // Iterations write disjoint ranges.
        Parallel.forRanges(count, grain: 4096) { r in
            for i in r {
                let x = gp.p[i]
                ap.p[i] = x / (1 + T.exp(-x)) * up.p[i]
            }
        }
    }

    /// From da = ∂L/∂a: dUp = da · silu(g) (written to `dUp`) and
    /// dGate = da · u · σ(g) · (1 + g(1 − σ(g))) (written over `da`), in the order of PyTorch's
    /// `mul` and `silu_backward`.
    static func backward<T: ReferenceScalar>(
        gate g: UnsafePointer<T>, up u: UnsafePointer<T>, grad da: UnsafeMutablePointer<T>, dUp: UnsafeMutablePointer<T>, count: Int
    ) {
        let gp = SharedPointer(UnsafeMutablePointer(mutating: g)), up = SharedPointer(UnsafeMutablePointer(mutating: u))
        let dp = SharedPointer(da), dup = SharedPointer(dUp)
        // Iterations write disjoint ranges.
        Parallel.forRanges(count, grain: 4096) { r in
            for i in r {
                let x = gp.p[i], e = T.exp(-x), s = 1 / (1 + e), d = dp.p[i]
                dup.p[i] = d * (x / (1 + e))
                dp.p[i] = d * up.p[i] * s * (1 + x * (1 - s))
            }
        }
    }
}
