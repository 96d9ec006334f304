/// The input embedding: x = tokens[input] (+ positions[t] with learned positions).
struct EmbeddingLayer: Sendable {
    /// B, T and C.
    let batch, seq, hidden: Int

    /// x[i] = tokens[inputs[i]] (+ positions[i mod T]); x is `[B·T, C]`.
    func forward<T: ReferenceScalar>(_ inputs: [Int32], tokens: BoundTensor<T>, positions: BoundTensor<T>?, into x: UnsafeMutablePointer<T>) {
        let c = hidden, t = seq
        let xp = SharedPointer(x), tok = SharedPointer(tokens.pointer), pos = positions.map { SharedPointer($0.pointer) }
        inputs.withUnsafeBufferPointer { ib in
            let ip = SharedPointer(UnsafeMutablePointer(mutating: ib.baseAddress!))
            // Iterations write disjoint rows.
            Parallel.forRanges(batch * seq, grain: 16) { r in
                for i in r {
                    let te = tok.p + Int(ip.p[i]) * c, out = xp.p + i * c
                    if let pos {
                        let pe = pos.p + (i % t) * c
                        for j in 0..<c { out[j] = te[j] + pe[j] }
                    } else {
                        out.update(from: te, count: c)
                    }
                }
            }
        }
    }

    /// Adds ∂L/∂x into the table gradients: positions summed over the batch, tokens scattered
    /// (parallel over columns, so each iteration owns its column range of the table).
    func backward<T: ReferenceScalar>(
        _ dx: UnsafePointer<T>, _ inputs: [Int32], tokens: BoundTensor<T>, positions: BoundTensor<T>?, grads: GradientSink<T>
    ) {
        let c = hidden, t = seq, bsz = batch, n = batch * seq
        let dxp = SharedPointer(UnsafeMutablePointer(mutating: dx)), dtok = SharedPointer(grads.pointer(tokens))
        if let positions {
            let dpos = SharedPointer(grads.pointer(positions))
            // Iterations own disjoint position rows.
            Parallel.forRanges(t, grain: 1) { r in
                for ti in r {
                    let out = dpos.p + ti * c
                    for b in 0..<bsz {
                        let src = dxp.p + (b * t + ti) * c
                        for j in 0..<c { out[j] += src[j] }
                    }
                }
            }
        }
        inputs.withUnsafeBufferPointer { ib in
            let ip = SharedPointer(UnsafeMutablePointer(mutating: ib.baseAddress!))
            // Iterations own disjoint column ranges.
            Parallel.forRanges(c, grain: 32) { cols in
                for i in 0..<n {
                    let out = dtok.p + Int(ip.p[i]) * c, src = dxp.p + i * c
                    for j in cols { out[j] += src[j] }
                }
            }
        }
    }
}
