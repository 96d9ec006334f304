/// Fully connected layers `y = x·Wᵀ + b` with PyTorch `[out, in]` weights, over row-major
/// activations `[rows, features]`. Matrix products go through `ReferenceScalar.gemm` (BLAS).
enum LinearKernel {
    /// y[rows, out] = x[rows, in] · w[out, in]ᵀ + bias[out].
    static func forward<T: ReferenceScalar>(
        x: UnsafePointer<T>, w: UnsafePointer<T>, bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        var beta: T = 0
        if let bias {
            let yp = SharedPointer(y), bp = SharedPointer(UnsafeMutablePointer(mutating: bias))
            Parallel.forRanges(rows, grain: 16) { r in
                for i in r { (yp.p + i * outFeatures).update(from: bp.p, count: outFeatures) }
            }
            beta = 1
        }
        T.gemm(
            transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
            a: x, lda: inFeatures, b: w, ldb: inFeatures, beta: beta, c: y, ldc: outFeatures)
    }

    /// Backward of `forward`: dx (= or +=) dy·W, dW += dyᵀ·x, dbias += Σ_rows dy.
    static func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, x: UnsafePointer<T>, w: UnsafePointer<T>,
        dx: UnsafeMutablePointer<T>?, accumulateDx: Bool, dw: UnsafeMutablePointer<T>,
        dbias: UnsafeMutablePointer<T>?, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let dx {
            T.gemm(
                transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
                a: dy, lda: outFeatures, b: w, ldb: inFeatures, beta: accumulateDx ? 1 : 0, c: dx, ldc: inFeatures)
        }
        T.gemm(
            transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
            a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dw, ldc: inFeatures)
        if let dbias { addColumnSums(dy, rows: rows, columns: outFeatures, into: dbias) }
    }

    /// out[j] += Σ_i m[i, j], parallel over column blocks (each block owned by one iteration).
    static func addColumnSums<T: ReferenceScalar>(
        _ m: UnsafePointer<T>, rows: Int, columns: Int, into out: UnsafeMutablePointer<T>
    ) {
        let mp = SharedPointer(UnsafeMutablePointer(mutating: m)), op = SharedPointer(out)
        Parallel.forRanges(columns, grain: 64) { cols in
            for i in 0..<rows {
                let row = mp.p + i * columns
                for j in cols { op.p[j] += row[j] }
            }
        }
    }
}

extension LinearKernel {
    /// y[rows, out] = residual + x·wᵀ + bias (the residual-stream update of a block).
    static func forwardResidual<T: ReferenceScalar>(
        x: UnsafePointer<T>, w: UnsafePointer<T>, bias: UnsafePointer<T>?, residual: UnsafePointer<T>,
        y: UnsafeMutablePointer<T>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        let yp = SharedPointer(y), rp = SharedPointer(UnsafeMutablePointer(mutating: residual))
        let bp = bias.map { SharedPointer(UnsafeMutablePointer(mutating: $0)) }
        Parallel.forRanges(rows, grain: 16) { r in
            for i in r {
                let yr = yp.p + i * outFeatures, rr = rp.p + i * outFeatures
                if let bp {
                    for j in 0..<outFeatures { yr[j] = rr[j] + bp.p[j] }
                } else {
                    yr.update(from: rr, count: outFeatures)
                }
            }
        }
        T.gemm(
            transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
            a: x, lda: inFeatures, b: w, ldb: inFeatures, beta: 1, c: y, ldc: outFeatures)
    }
}
