/// The attention branch of a block: q, k, v projections (with bias when the model has them),
/// rotary embedding of q and k when positions are rotary, causal softmax attention (multi-head,
/// or grouped-query when there are fewer KV heads) and the output projection, added onto a
/// residual: y = residual + out(attn(q, k, v)).
struct AttentionBlock: Sendable {
    /// The attention core (heads, KV heads, head size, B, T).
    let kernel: AttentionKernel
    /// Rows B·T, width C, key/value width KV·hd.
    let rows, hidden, kvWidth: Int

    /// What the backward pass needs.
    final class Cache<T: ReferenceScalar> {
        /// q `[rows, C]` and k, v `[rows, KV·hd]`, after rotary embedding.
        let q, k, v: ScalarBuffer<T>
        /// Softmax probabilities `[B, H, T, T]`.
        let probs: ScalarBuffer<T>
        /// Attention output before the output projection `[rows, C]`.
        let att: ScalarBuffer<T>

        init(_ block: AttentionBlock, recycler: PageRecycler) {
            q = recycler.buffer(block.rows * block.hidden)
            k = recycler.buffer(block.rows * block.kvWidth)
            v = recycler.buffer(block.rows * block.kvWidth)
            probs = recycler.buffer(block.kernel.probabilityCount)
            att = recycler.buffer(block.rows * block.hidden)
        }
    }

    /// y = residual + out(attention(h)), saving what the backward pass needs in `cache`.
    func forward<T: ReferenceScalar>(
        _ h: UnsafePointer<T>, residual: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, _ w: BlockWeights<T>,
        rotary: RotaryKernel<T>?, cache: Cache<T>
    ) {
        project(h, w.query, cache.q.pointer)
        project(h, w.key, cache.k.pointer)
        project(h, w.value, cache.v.pointer)
        if let rotary {
            rotary.rotate(cache.q.pointer, rows: rows, heads: kernel.heads)
            rotary.rotate(cache.k.pointer, rows: rows, heads: kernel.kvHeads)
        }
        kernel.forward(q: cache.q.pointer, k: cache.k.pointer, v: cache.v.pointer, probs: cache.probs.pointer, out: cache.att.pointer)
        LinearKernel.forwardResidual(
            x: cache.att.pointer, w: w.output.weight.pointer, bias: w.output.bias?.pointer, residual: residual, y: y,
            rows: rows, inFeatures: hidden, outFeatures: hidden)
    }

    /// From dy = ∂L/∂y: writes ∂L/∂h into `dh` (also used as scratch for ∂L/∂att) and adds the
    /// weight gradients; `dq`, `dk`, `dv` are scratch of q's, k's and v's sizes.
    func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, input h: UnsafePointer<T>, _ w: BlockWeights<T>, rotary: RotaryKernel<T>?, cache: Cache<T>,
        dh: UnsafeMutablePointer<T>, dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>,
        grads: GradientSink<T>
    ) {
        LinearKernel.backward(
            dy: dy, x: cache.att.pointer, w: w.output.weight.pointer, dx: dh, accumulateDx: false, dw: grads.pointer(w.output.weight),
            dbias: grads.pointer(ifBound: w.output.bias), rows: rows, inFeatures: hidden, outFeatures: hidden)
        kernel.backward(dout: dh, q: cache.q.pointer, k: cache.k.pointer, v: cache.v.pointer, probs: cache.probs.pointer, dq: dq, dk: dk, dv: dv)
        if let rotary {
            rotary.rotateBack(dq, rows: rows, heads: kernel.heads)
            rotary.rotateBack(dk, rows: rows, heads: kernel.kvHeads)
        }
        projectBack(dq, h, w.query, dh, accumulate: false, grads)
        projectBack(dk, h, w.key, dh, accumulate: true, grads)
        projectBack(dv, h, w.value, dh, accumulate: true, grads)
    }

    private func project<T: ReferenceScalar>(_ h: UnsafePointer<T>, _ l: LinearWeights<T>, _ y: UnsafeMutablePointer<T>) {
        LinearKernel.forward(
            x: h, w: l.weight.pointer, bias: l.bias?.pointer, y: y, rows: rows, inFeatures: l.inFeatures, outFeatures: l.outFeatures)
    }

    private func projectBack<T: ReferenceScalar>(
        _ dy: UnsafePointer<T>, _ h: UnsafePointer<T>, _ l: LinearWeights<T>, _ dh: UnsafeMutablePointer<T>, accumulate: Bool,
        _ grads: GradientSink<T>
    ) {
        LinearKernel.backward(
            dy: dy, x: h, w: l.weight.pointer, dx: dh, accumulateDx: accumulate, dw: grads.pointer(l.weight),
            dbias: grads.pointer(ifBound: l.bias), rows: rows, inFeatures: l.inFeatures, outFeatures: l.outFeatures)
    }
}
