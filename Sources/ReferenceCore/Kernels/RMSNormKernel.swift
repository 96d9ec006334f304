/// RMSNorm over the last dimension (LLaMA; `LlamaRMSNorm` in transformers):
/// y = x · r · w with r = 1/√(mean(x²) + eps), no bias and no centring.
enum RMSNormKernel {
    /// Normalises each of `rows` rows of `x`, writing `y` and the per-row r for the backward
    /// pass. Row sums in `LayerNormKernel.rowSum`'s fixed order.
    static func forward<T: ReferenceScalar>(
        x: UnsafePointer<T>, w: UnsafePointer<T>, y: UnsafeMutablePointer<T>, rstd: UnsafeMutablePointer<T>,
        rows: Int, columns: Int, eps: T
    ) {
        let xp = SharedPointer(UnsafeMutablePointer(mutating: x)), yp = SharedPointer(y)
        let wp = SharedPointer(UnsafeMutablePointer(mutating: w)), rp = SharedPointer(rstd)
        let n = T(columns)
        // Iterations write disjoint rows.
        Parallel.forRanges(rows, grain: 8) { r in
            for i in r {
                let xr = xp.p + i * columns, yr = yp.p + i * columns
                let ms = LayerNormKernel.rowSum(columns) { xr[$0] * xr[$0] } / n
                let rs = 1 / (ms + eps).squareRoot()
                rp.p[i] = rs
                for j in 0..<columns { yr[j] = xr[j] * rs * wp.p[j] }
            }
        }
    }

    /// Backward: dx += r·(dy·w − x̂·mean(dy·w·x̂)) with x̂ = x·r, and dw += Σ_rows dy·x̂.
    static func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, x: UnsafePointer<T>, w: UnsafePointer<T>, rstd: UnsafePointer<T>,
        dx: UnsafeMutablePointer<T>, dw: UnsafeMutablePointer<T>, rows: Int, columns: Int
    ) {
        let dyp = SharedPointer(UnsafeMutablePointer(mutating: dy)), xp = SharedPointer(UnsafeMutablePointer(mutating: x))
        let wp = SharedPointer(UnsafeMutablePointer(mutating: w)), rp = SharedPointer(UnsafeMutablePointer(mutating: rstd))
        let dxp = SharedPointer(dx), dwp = SharedPointer(dw)
        let n = T(columns)
        // Iterations write disjoint rows of dx.
        Parallel.forRanges(rows, grain: 8) { r in
            for i in r {
                let g = dyp.p + i * columns, xr = xp.p + i * columns, out = dxp.p + i * columns
                let rs = rp.p[i]
                let c = LayerNormKernel.rowSum(columns) { j in g[j] * wp.p[j] * (xr[j] * rs) } / n
                for j in 0..<columns { out[j] += rs * (g[j] * wp.p[j] - xr[j] * rs * c) }
            }
        }
        // Iterations own disjoint column ranges of dw.
        Parallel.forRanges(columns, grain: 64) { cols in
            for i in 0..<rows {
                let g = dyp.p + i * columns, xr = xp.p + i * columns, rs = rp.p[i]
                for j in cols { dwp.p[j] += g[j] * (xr[j] * rs) }
            }
        }
    }
}
