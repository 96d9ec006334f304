import CheckpointStore

/// Forward and backward pass of a GPT-2/GPT-3 family model, written out by hand and generic
/// over the scalar type (`Float` for real steps, `Double` for the gradient check).
///
/// Pre-LayerNorm blocks: x += Attn(LN₁(x)); x += MLP(LN₂(x)); then a final LayerNorm and the
/// (tied or untied) head, and mean cross-entropy over targets ≠ -1. Only the activations the
/// backward pass needs are kept, and each layer's are freed once its backward is done.
struct GPTCore<T: ReferenceScalar> {
    /// The architecture (validated by `ReferenceModel`).
    let config: ModelConfig
    /// The MLP activation.
    let gelu: GELUKernel.Kind

    /// Activations of one block kept for its backward pass.
    final class LayerCache {
        let x, ln1Mean, ln1Rstd, h1, q, k, v, probs, att, xMid, ln2Mean, ln2Rstd, h2, u, g: ScalarBuffer<T>
        init(x: ScalarBuffer<T>, rows n: Int, c: Int, kv: Int, f: Int, probs p: Int, recycler r: PageRecycler) {
            self.x = x
            ln1Mean = ScalarBuffer(count: n, recycler: r)
            ln1Rstd = ScalarBuffer(count: n, recycler: r)
            h1 = ScalarBuffer(count: n * c, recycler: r)
            q = ScalarBuffer(count: n * c, recycler: r)
            k = ScalarBuffer(count: n * kv, recycler: r)
            v = ScalarBuffer(count: n * kv, recycler: r)
            probs = ScalarBuffer(count: p, recycler: r)
            att = ScalarBuffer(count: n * c, recycler: r)
            xMid = ScalarBuffer(count: n * c, recycler: r)
            ln2Mean = ScalarBuffer(count: n, recycler: r)
            ln2Rstd = ScalarBuffer(count: n, recycler: r)
            h2 = ScalarBuffer(count: n * c, recycler: r)
            u = ScalarBuffer(count: n * f, recycler: r)
            g = ScalarBuffer(count: n * f, recycler: r)
        }
    }

    /// Runs the forward pass and returns the mean loss; when `gradients` is given (the names
    /// and shapes of `params`; a tensor without a buffer gets a zero-filled one when the
    /// backward pass reaches it, in memory the pass has freed by then where it fits), also
    /// runs the backward pass and adds ∂loss/∂θ into it, calling
    /// `finished` with each block's tensor-name prefix (`layers.3.`) and each other tensor's name
    /// as soon as those gradients are final (while they are still in cache).
    func run(params: TensorBuffers<T>, batch: TokenBatch, gradients: TensorBuffers<T>?, finished: ((String) -> Void)? = nil) -> Double {
        let bsz = batch.batchSize, t = batch.sequenceLength, n = bsz * t
        let c = config.hidden, f = config.ffn, vocab = config.vocab, hd = config.headDim
        let kv = config.kvHeads * hd
        let eps = T(config.normEps)
        let attention = AttentionKernel(batch: bsz, seq: t, heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
        func p(_ name: String) -> UnsafeMutablePointer<T> { params[name]!.pointer }
        func pb(_ name: String) -> UnsafeMutablePointer<T>? { config.bias ? params[name]?.pointer : nil }
        // Activations freed during the pass are reused by its later buffers (gradients above all).
        let recycler = PageRecycler()
        defer { recycler.close() }
        func gr(_ name: String) -> UnsafeMutablePointer<T> { gradients!.materialize(name, recycler: recycler).pointer }
        func gb(_ name: String) -> UnsafeMutablePointer<T>? {
            config.bias && gradients!.shapes[name] != nil ? gradients!.materialize(name, recycler: recycler).pointer : nil
        }
        func buffer(_ count: Int) -> ScalarBuffer<T> { ScalarBuffer(count: count, recycler: recycler) }

        // Embeddings.
        var x = buffer(n * c)
        do {
            let xp = SharedPointer(x.pointer), tok = SharedPointer(p("embed.tokens.weight")), pos = SharedPointer(p("embed.positions.weight"))
            batch.inputs.withUnsafeBufferPointer { ib in
                let ip = SharedPointer(UnsafeMutablePointer(mutating: ib.baseAddress!))
                Parallel.forRanges(n, grain: 16) { r in
                    for i in r {
                        let te = tok.p + Int(ip.p[i]) * c, pe = pos.p + (i % t) * c, out = xp.p + i * c
                        for j in 0..<c { out[j] = te[j] + pe[j] }
                    }
                }
            }
        }

        // Blocks.
        var caches: [LayerCache] = []
        for l in 0..<config.layers {
            let pre = "layers.\(l)."
            let cache = LayerCache(x: x, rows: n, c: c, kv: kv, f: f, probs: attention.probabilityCount, recycler: recycler)
            LayerNormKernel.forward(
                x: x.pointer, w: p(pre + "attn_norm.weight"), b: pb(pre + "attn_norm.bias"), y: cache.h1.pointer,
                mean: cache.ln1Mean.pointer, rstd: cache.ln1Rstd.pointer, rows: n, columns: c, eps: eps)
            LinearKernel.forward(
                x: cache.h1.pointer, w: p(pre + "attn.q.weight"), bias: pb(pre + "attn.q.bias"), y: cache.q.pointer, rows: n, inFeatures: c, outFeatures: c)
            LinearKernel.forward(
                x: cache.h1.pointer, w: p(pre + "attn.k.weight"), bias: pb(pre + "attn.k.bias"), y: cache.k.pointer, rows: n, inFeatures: c, outFeatures: kv)
            LinearKernel.forward(
                x: cache.h1.pointer, w: p(pre + "attn.v.weight"), bias: pb(pre + "attn.v.bias"), y: cache.v.pointer, rows: n, inFeatures: c, outFeatures: kv)
            attention.forward(q: cache.q.pointer, k: cache.k.pointer, v: cache.v.pointer, probs: cache.probs.pointer, out: cache.att.pointer)
            LinearKernel.forwardResidual(
                x: cache.att.pointer, w: p(pre + "attn.out.weight"), bias: pb(pre + "attn.out.bias"), residual: x.pointer,
                y: cache.xMid.pointer, rows: n, inFeatures: c, outFeatures: c)
            LayerNormKernel.forward(
                x: cache.xMid.pointer, w: p(pre + "mlp_norm.weight"), b: pb(pre + "mlp_norm.bias"), y: cache.h2.pointer,
                mean: cache.ln2Mean.pointer, rstd: cache.ln2Rstd.pointer, rows: n, columns: c, eps: eps)
            LinearKernel.forward(
                x: cache.h2.pointer, w: p(pre + "mlp.up.weight"), bias: pb(pre + "mlp.up.bias"), y: cache.u.pointer, rows: n, inFeatures: c, outFeatures: f)
            GELUKernel.forward(gelu, u: cache.u.pointer, out: cache.g.pointer, count: n * f)
            let next = buffer(n * c)
            LinearKernel.forwardResidual(
                x: cache.g.pointer, w: p(pre + "mlp.down.weight"), bias: pb(pre + "mlp.down.bias"), residual: cache.xMid.pointer,
                y: next.pointer, rows: n, inFeatures: f, outFeatures: c)
            if gradients != nil { caches.append(cache) }
            x = next
        }

        // Final norm, head, loss.
        let hf = buffer(n * c), fMean = buffer(n), fRstd = buffer(n)
        LayerNormKernel.forward(
            x: x.pointer, w: p("final_norm.weight"), b: pb("final_norm.bias"), y: hf.pointer,
            mean: fMean.pointer, rstd: fRstd.pointer, rows: n, columns: c, eps: eps)
        let headName = config.tieEmbeddings ? "embed.tokens.weight" : "lm_head.weight"
        var logits: ScalarBuffer<T>? = buffer(n * vocab)
        LinearKernel.forward(x: hf.pointer, w: p(headName), bias: nil, y: logits!.pointer, rows: n, inFeatures: c, outFeatures: vocab)
        let loss = CrossEntropyKernel.lossAndGradient(
            logits: logits!.pointer, targets: batch.targets, rows: n, vocab: vocab, gradient: gradients != nil)
        guard gradients != nil else { return loss }

        // Backward: head and final norm.
        let dh = buffer(n * c)
        LinearKernel.backward(
            dy: logits!.pointer, x: hf.pointer, w: p(headName), dx: dh.pointer, accumulateDx: false,
            dw: gr(headName), dbias: nil, rows: n, inFeatures: c, outFeatures: vocab)
        logits = nil
        let dx = buffer(n * c)
        LayerNormKernel.backward(
            dy: dh.pointer, x: x.pointer, w: p("final_norm.weight"), mean: fMean.pointer, rstd: fRstd.pointer,
            dx: dx.pointer, dw: gr("final_norm.weight"), db: gb("final_norm.bias"), rows: n, columns: c)

        finished?("final_norm.weight")
        finished?("final_norm.bias")
        if !config.tieEmbeddings { finished?(headName) }

        // Blocks in reverse.
        let dWide = buffer(n * f)
        let dq = buffer(n * c), dk = buffer(n * kv), dv = buffer(n * kv)
        for l in stride(from: config.layers - 1, through: 0, by: -1) {
            let pre = "layers.\(l).", cache = caches[l]
            // MLP.
            LinearKernel.backward(
                dy: dx.pointer, x: cache.g.pointer, w: p(pre + "mlp.down.weight"), dx: dWide.pointer, accumulateDx: false,
                dw: gr(pre + "mlp.down.weight"), dbias: gb(pre + "mlp.down.bias"), rows: n, inFeatures: f, outFeatures: c)
            GELUKernel.backward(gelu, u: cache.u.pointer, grad: dWide.pointer, count: n * f)
            LinearKernel.backward(
                dy: dWide.pointer, x: cache.h2.pointer, w: p(pre + "mlp.up.weight"), dx: dh.pointer, accumulateDx: false,
                dw: gr(pre + "mlp.up.weight"), dbias: gb(pre + "mlp.up.bias"), rows: n, inFeatures: c, outFeatures: f)
            LayerNormKernel.backward(
                dy: dh.pointer, x: cache.xMid.pointer, w: p(pre + "mlp_norm.weight"), mean: cache.ln2Mean.pointer,
                rstd: cache.ln2Rstd.pointer, dx: dx.pointer, dw: gr(pre + "mlp_norm.weight"), db: gb(pre + "mlp_norm.bias"),
                rows: n, columns: c)
            // Attention.
            LinearKernel.backward(
                dy: dx.pointer, x: cache.att.pointer, w: p(pre + "attn.out.weight"), dx: dh.pointer, accumulateDx: false,
                dw: gr(pre + "attn.out.weight"), dbias: gb(pre + "attn.out.bias"), rows: n, inFeatures: c, outFeatures: c)
            attention.backward(
                dout: dh.pointer, q: cache.q.pointer, k: cache.k.pointer, v: cache.v.pointer, probs: cache.probs.pointer,
                dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
            LinearKernel.backward(
                dy: dq.pointer, x: cache.h1.pointer, w: p(pre + "attn.q.weight"), dx: dh.pointer, accumulateDx: false,
                dw: gr(pre + "attn.q.weight"), dbias: gb(pre + "attn.q.bias"), rows: n, inFeatures: c, outFeatures: c)
            LinearKernel.backward(
                dy: dk.pointer, x: cache.h1.pointer, w: p(pre + "attn.k.weight"), dx: dh.pointer, accumulateDx: true,
                dw: gr(pre + "attn.k.weight"), dbias: gb(pre + "attn.k.bias"), rows: n, inFeatures: c, outFeatures: kv)
            LinearKernel.backward(
                dy: dv.pointer, x: cache.h1.pointer, w: p(pre + "attn.v.weight"), dx: dh.pointer, accumulateDx: true,
                dw: gr(pre + "attn.v.weight"), dbias: gb(pre + "attn.v.bias"), rows: n, inFeatures: c, outFeatures: kv)
            LayerNormKernel.backward(
                dy: dh.pointer, x: cache.x.pointer, w: p(pre + "attn_norm.weight"), mean: cache.ln1Mean.pointer,
                rstd: cache.ln1Rstd.pointer, dx: dx.pointer, dw: gr(pre + "attn_norm.weight"), db: gb(pre + "attn_norm.bias"),
                rows: n, columns: c)
            caches.removeLast()
            finished?(pre)
        }

        // Embeddings: positions summed over the batch; tokens scattered, parallel over columns
        // so each iteration owns its column range of the token table.
        let dxp = SharedPointer(dx.pointer), dtok = SharedPointer(gr("embed.tokens.weight")), dpos = SharedPointer(gr("embed.positions.weight"))
        Parallel.forRanges(t, grain: 1) { r in
            for ti in r {
                let out = dpos.p + ti * c
                for b in 0..<bsz {
                    let src = dxp.p + (b * t + ti) * c
                    for j in 0..<c { out[j] += src[j] }
                }
            }
        }
        batch.inputs.withUnsafeBufferPointer { ib in
            let ip = SharedPointer(UnsafeMutablePointer(mutating: ib.baseAddress!))
            Parallel.forRanges(c, grain: 32) { cols in
                for i in 0..<n {
                    let out = dtok.p + Int(ip.p[i]) * c, src = dxp.p + i * c
                    for j in cols { out[j] += src[j] }
                }
            }
        }
        return loss
    }
}
