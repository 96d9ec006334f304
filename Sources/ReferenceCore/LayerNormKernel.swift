/// LayerNorm with weight and optional bias over the last dimension:
/// y = (x − mean) / √(var + eps) · w + b, var the biased variance.
enum LayerNormKernel {
    /// Normalises each of `rows` rows of `x`, writing `y` and the per-row mean and 1/σ for the
    /// backward pass.
    static func forward<T: ReferenceScalar>(
        x: UnsafePointer<T>, w: UnsafePointer<T>, b: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
        mean: UnsafeMutablePointer<T>, rstd: UnsafeMutablePointer<T>, rows: Int, columns: Int, eps: T
    ) {
        let xp = SharedPointer(UnsafeMutablePointer(mutating: x)), yp = SharedPointer(y)
        let wp = SharedPointer(UnsafeMutablePointer(mutating: w)), bp = b.map { SharedPointer(UnsafeMutablePointer(mutating: $0)) }
        let mp = SharedPointer(mean), rp = SharedPointer(rstd)
        let n = T(columns)
        Parallel.forRanges(rows, grain: 8) { r in
            for i in r {
                let xr = xp.p + i * columns, yr = yp.p + i * columns
                var s: T = 0
                for j in 0..<columns { s += xr[j] }
                let mu = s / n
                var v: T = 0
                for j in 0..<columns {
                    let d = xr[j] - mu
                    v += d * d
                }
                let rs = 1 / (v / n + eps).squareRoot()
                mp.p[i] = mu
                rp.p[i] = rs
                if let bp {
                    for j in 0..<columns { yr[j] = (xr[j] - mu) * rs * wp.p[j] + bp.p[j] }
                } else {
                    for j in 0..<columns { yr[j] = (xr[j] - mu) * rs * wp.p[j] }
                }
            }
        }
    }

    /// Backward: dx += ∂L/∂x, dw += Σ dy·x̂, db += Σ dy.
    static func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, x: UnsafePointer<T>, w: UnsafePointer<T>, mean: UnsafePointer<T>,
        rstd: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, dw: UnsafeMutablePointer<T>,
        db: UnsafeMutablePointer<T>?, rows: Int, columns: Int
    ) {
        let dyp = SharedPointer(UnsafeMutablePointer(mutating: dy)), xp = SharedPointer(UnsafeMutablePointer(mutating: x))
        let wp = SharedPointer(UnsafeMutablePointer(mutating: w)), mp = SharedPointer(UnsafeMutablePointer(mutating: mean))
        let rp = SharedPointer(UnsafeMutablePointer(mutating: rstd)), dxp = SharedPointer(dx)
        let n = T(columns)
        Parallel.forRanges(rows, grain: 8) { r in
            for i in r {
                let g = dyp.p + i * columns, xr = xp.p + i * columns, out = dxp.p + i * columns
                let mu = mp.p[i], rs = rp.p[i]
                var a: T = 0, c: T = 0
                for j in 0..<columns {
                    let dxh = g[j] * wp.p[j]
                    a += dxh
                    c += dxh * (xr[j] - mu) * rs
                }
                a /= n
                c /= n
                for j in 0..<columns {
                    let xh = (xr[j] - mu) * rs
                    out[j] += rs * (g[j] * wp.p[j] - a - xh * c)
                }
            }
        }
        let dwp = SharedPointer(dw), dbp = db.map { SharedPointer($0) }
        Parallel.forRanges(columns, grain: 64) { cols in
            for i in 0..<rows {
                let g = dyp.p + i * columns, xr = xp.p + i * columns
                let mu = mp.p[i], rs = rp.p[i]
                for j in cols { dwp.p[j] += g[j] * (xr[j] - mu) * rs }
                if let dbp { for j in cols { dbp.p[j] += g[j] } }
            }
        }
    }
}
