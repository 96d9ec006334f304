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
                let mu = rowSum(columns) { xr[$0] } / n
                let v = rowSum(columns) { j in
                    let d = xr[j] - mu
                    return d * d
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
                let a = rowSum(columns) { g[$0] * wp.p[$0] } / n
                let c = rowSum(columns) { j in g[j] * wp.p[j] * (xr[j] - mu) * rs } / n
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

    /// Σ term(j) for j in 0..<count, in eight interleaved partial sums (term j in sum j mod 8,
    /// the sums then added in order), which the compiler turns into vector additions; a fixed
    /// order, independent of the number of cores.
    @inline(__always)
    static func rowSum<T: ReferenceScalar>(_ count: Int, _ term: (Int) -> T) -> T {
        var p0: T = 0, p1: T = 0, p2: T = 0, p3: T = 0, p4: T = 0, p5: T = 0, p6: T = 0, p7: T = 0
        var j = 0
        while j + 8 <= count {
            p0 += term(j)
            p1 += term(j + 1)
            p2 += term(j + 2)
            p3 += term(j + 3)
            p4 += term(j + 4)
            p5 += term(j + 5)
            p6 += term(j + 6)
            p7 += term(j + 7)
            j += 8
        }
        var s = ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))
        while j < count {
            s += term(j)
            j += 1
        }
        return s
    }
}
