/// Causal scaled-dot-product attention over heads laid out side by side in the feature
/// dimension: q/out are `[B·T, H·hd]`, k/v are `[B·T, KV·hd]`; query head h reads key/value head
/// h / (H / KV) (grouped-query attention; KV = H for GPT-2).
struct AttentionKernel {
    /// B.
    let batch: Int
    /// T.
    let seq: Int
    /// H.
    let heads: Int
    /// KV.
    let kvHeads: Int
    /// hd.
    let headDim: Int

    var qStride: Int { heads * headDim }
    var kvStride: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
    /// Elements of the saved probabilities, B·H·T·T.
    var probabilityCount: Int { batch * heads * seq * seq }

    /// out = softmax(mask(q·kᵀ/√hd))·v, saving the probabilities P `[B, H, T, T]`
    /// (zero above the diagonal).
    func forward<T: ReferenceScalar>(
        q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
        probs: UnsafeMutablePointer<T>, out: UnsafeMutablePointer<T>
    ) {
        let qp = SharedPointer(UnsafeMutablePointer(mutating: q)), kp = SharedPointer(UnsafeMutablePointer(mutating: k))
        let vp = SharedPointer(UnsafeMutablePointer(mutating: v)), pp = SharedPointer(probs), op = SharedPointer(out)
        let scale = 1 / T(headDim).squareRoot()
        let (t, hd, qs, kvs, g) = (seq, headDim, qStride, kvStride, group)
        Parallel.forEach(batch * heads) { bh in
            let b = bh / heads, h = bh % heads, kvh = h / g
            let qb = qp.p + b * t * qs + h * hd
            let kb = kp.p + b * t * kvs + kvh * hd
            let vb = vp.p + b * t * kvs + kvh * hd
            let pb = pp.p + bh * t * t
            T.gemm(
                transA: false, transB: true, m: t, n: t, k: hd, alpha: scale,
                a: qb, lda: qs, b: kb, ldb: kvs, beta: 0, c: pb, ldc: t)
            for i in 0..<t {
                let row = pb + i * t
                var mx = row[0]
                for j in 0...i where row[j] > mx { mx = row[j] }
                var s: T = 0
                for j in 0...i {
                    let e = T.exp(row[j] - mx)
                    row[j] = e
                    s += e
                }
                let inv = 1 / s
                for j in 0...i { row[j] *= inv }
                for j in (i + 1)..<t { row[j] = 0 }
            }
            T.gemm(
                transA: false, transB: false, m: t, n: hd, k: t, alpha: 1,
                a: pb, lda: t, b: vb, ldb: kvs, beta: 0, c: op.p + b * t * qs + h * hd, ldc: qs)
        }
    }

    /// Backward of `forward`: writes dq, dk, dv (overwritten) from dout.
    func backward<T: ReferenceScalar>(
        dout: UnsafePointer<T>, q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
        probs: UnsafePointer<T>, dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>,
        dv: UnsafeMutablePointer<T>
    ) {
        let dop = SharedPointer(UnsafeMutablePointer(mutating: dout)), qp = SharedPointer(UnsafeMutablePointer(mutating: q))
        let kp = SharedPointer(UnsafeMutablePointer(mutating: k)), vp = SharedPointer(UnsafeMutablePointer(mutating: v))
        let pp = SharedPointer(UnsafeMutablePointer(mutating: probs))
        let dqp = SharedPointer(dq), dkp = SharedPointer(dk), dvp = SharedPointer(dv)
        let scale = 1 / T(headDim).squareRoot()
        let (t, hd, qs, kvs, g, nh, nkv) = (seq, headDim, qStride, kvStride, group, heads, kvHeads)
        // One iteration per (batch, kv head): it owns that head's dk/dv columns and the dq
        // columns of the query heads in its group, so iterations write disjoint ranges.
        Parallel.forEach(batch * nkv) { bk in
            let b = bk / nkv, kvh = bk % nkv
            let kb = kp.p + b * t * kvs + kvh * hd, vb = vp.p + b * t * kvs + kvh * hd
            let dkb = dkp.p + b * t * kvs + kvh * hd, dvb = dvp.p + b * t * kvs + kvh * hd
            for i in 0..<t {
                (dkb + i * kvs).update(repeating: 0, count: hd)
                (dvb + i * kvs).update(repeating: 0, count: hd)
            }
            let dp = UnsafeMutablePointer<T>.allocate(capacity: t * t)
            defer { dp.deallocate() }
            for h in (kvh * g)..<((kvh + 1) * g) {
                let qb = qp.p + b * t * qs + h * hd, dob = dop.p + b * t * qs + h * hd
                let dqb = dqp.p + b * t * qs + h * hd
                let pb = pp.p + (b * nh + h) * t * t
                // dP = dO·Vᵀ ; dV += Pᵀ·dO
                T.gemm(
                    transA: false, transB: true, m: t, n: t, k: hd, alpha: 1,
                    a: dob, lda: qs, b: vb, ldb: kvs, beta: 0, c: dp, ldc: t)
                T.gemm(
                    transA: true, transB: false, m: t, n: hd, k: t, alpha: 1,
                    a: pb, lda: t, b: dob, ldb: qs, beta: 1, c: dvb, ldc: kvs)
                // dS = P ∘ (dP − rowsum(P ∘ dP)) · scale  (zero above the diagonal)
                for i in 0..<t {
                    let pr = pb + i * t, dr = dp + i * t
                    var s: T = 0
                    for j in 0...i { s += pr[j] * dr[j] }
                    for j in 0...i { dr[j] = pr[j] * (dr[j] - s) * scale }
                    for j in (i + 1)..<t { dr[j] = 0 }
                }
                // dQ = dS·K ; dK += dSᵀ·Q
                T.gemm(
                    transA: false, transB: false, m: t, n: hd, k: t, alpha: 1,
                    a: dp, lda: t, b: kb, ldb: kvs, beta: 0, c: dqb, ldc: qs)
                T.gemm(
                    transA: true, transB: false, m: t, n: hd, k: t, alpha: 1,
                    a: dp, lda: t, b: qb, ldb: qs, beta: 1, c: dkb, ldc: kvs)
            }
        }
    }
}
