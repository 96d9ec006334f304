import CheckpointStore

/// The forward and backward pass of a decoder-only transformer composed from the parts
/// `ModelArchitecture` names, generic over the scalar type (`Float` for real steps, `Double`
/// for the gradient checks): embedding, L blocks, final norm, head, and mean cross-entropy
/// over targets ≠ -1. It reads as the list of block calls; the blocks hold the kernels.
///
/// Only the activations the backward pass needs are kept, and each block's are freed once its
/// backward is done.
struct TransformerCore<T: ReferenceScalar> {
    /// The parts.
    let architecture: ModelArchitecture

    /// Runs the forward pass and returns the mean loss; with `grads`, also the backward pass,
    /// adding ∂loss/∂θ into it and calling `finished` with each block's prefix (`layers.3.`) and
    /// each other tensor's name as soon as those gradients are final (while still in cache).
    /// `grads` must sink into `recycler`, which the pass closes when done.
    func run(
        _ w: ModelWeights<T>, batch: TokenBatch, grads: GradientSink<T>?, recycler: PageRecycler, finished: ((String) -> Void)? = nil
    ) -> Double {
        defer { recycler.close() }
        let a = architecture
        let n = batch.batchSize * batch.sequenceLength, c = a.hidden
        let parts = layers(for: batch)
        let (block, norm, embedding, rotary) = (parts.block, parts.norm, parts.embedding, parts.rotary)

        // Forward.
        var x: ScalarBuffer<T> = recycler.buffer(n * c)
        embedding.forward(batch.inputs, tokens: w.tokens, positions: w.positions, into: x.pointer)
        var caches: [TransformerBlock.Cache<T>] = []
        for bw in w.blocks {
            let cache = TransformerBlock.Cache(block, input: x, recycler: recycler)
            let next: ScalarBuffer<T> = recycler.buffer(n * c)
            block.forward(cache, into: next.pointer, bw, rotary: rotary)
            if grads != nil { caches.append(cache) }
            x = next
        }
        let final = NormLayer.Cache<T>(norm, recycler: recycler)
        norm.forward(x.pointer, w.finalNorm, into: final)
        let (loss, dh) = head(final.y, w.head, batch: batch, grads: grads, recycler: recycler)
        guard let grads, let dh else { return loss }

        // Backward: the final norm, then the blocks in reverse.
        let dx: ScalarBuffer<T> = recycler.buffer(n * c)
        norm.backward(dy: dh.pointer, x: x.pointer, w.finalNorm, cache: final, dx: dx.pointer, grads: grads)
        for t in w.finalNorm.tensors { finished?(t.name) }
        if !a.tiedHead { finished?(w.head.name) }
        let scratch = TransformerBlock.Scratch(block, dh: dh, recycler: recycler)
        for l in w.blocks.indices.reversed() {
            block.backward(dx.pointer, caches[l], w.blocks[l], rotary: rotary, scratch: scratch, grads: grads)
            caches.removeLast()
            finished?(w.blocks[l].prefix)
        }
        embedding.backward(dx.pointer, batch.inputs, tokens: w.tokens, positions: w.positions, grads: grads)
        return loss
    }

    /// The layers of a pass over `batch`: one block (every block has the same shapes), the norm
    /// (each block's and the final one), the embedding and the rotary tables, if any.
    func layers(for batch: TokenBatch) -> PassLayers<T> {
        let a = architecture
        let n = batch.batchSize * batch.sequenceLength, c = a.hidden
        let attention = AttentionKernel(batch: batch.batchSize, seq: batch.sequenceLength, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim)
        let norm = NormLayer(kind: a.norm, eps: a.normEps, rows: n, columns: c)
        let block = TransformerBlock(
            attentionNorm: norm, mlpNorm: norm,
            attention: AttentionBlock(kernel: attention, rows: n, hidden: c, kvWidth: a.kvHeads * a.headDim),
            mlp: MLPBlock(kind: a.mlp, rows: n, hidden: c, ffn: a.ffn), residual: a.residual)
        var rotary: RotaryKernel<T>?
        if case .rotary(let dims, let theta, let scaling) = a.positions {
            rotary = RotaryKernel(seq: batch.sequenceLength, headDim: a.headDim, dimensions: dims, theta: theta, scaling: scaling)
        }
        return PassLayers(block: block, norm: norm, embedding: EmbeddingLayer(batch: batch.batchSize, seq: batch.sequenceLength, hidden: c), rotary: rotary)
    }

    /// The head and the loss: logits = h·headᵀ, mean cross-entropy, and with `grads` the
    /// head's gradient and ∂loss/∂h (`[rows, C]`). The logits are freed on return.
    func head(
        _ h: ScalarBuffer<T>, _ headWeights: BoundTensor<T>, batch: TokenBatch, grads: GradientSink<T>?, recycler: PageRecycler
    ) -> (loss: Double, dh: ScalarBuffer<T>?) {
        let n = batch.batchSize * batch.sequenceLength, c = architecture.hidden, v = architecture.vocab
        let logits: ScalarBuffer<T> = recycler.buffer(n * v)
        LinearKernel.forward(x: h.pointer, w: headWeights.pointer, bias: nil, y: logits.pointer, rows: n, inFeatures: c, outFeatures: v)
        // With a gradient, the logits are overwritten by ∂loss/∂logits.
        let loss = CrossEntropyKernel.lossAndGradient(logits: logits.pointer, targets: batch.targets, rows: n, vocab: v, gradient: grads != nil)
        guard let grads else { return (loss, nil) }
        let dh: ScalarBuffer<T> = recycler.buffer(n * c)
        LinearKernel.backward(
            dy: logits.pointer, x: h.pointer, w: headWeights.pointer, dx: dh.pointer, accumulateDx: false, dw: grads.pointer(headWeights),
            dbias: nil, rows: n, inFeatures: c, outFeatures: v)
        return (loss, dh)
    }
}
