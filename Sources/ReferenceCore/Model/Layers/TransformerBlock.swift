/// One pre-norm transformer block: the attention and MLP branches, each behind its own norm,
/// combined sequentially (`h = x + attn(ln₁ x)`, `y = h + mlp(ln₂ h)`) or in parallel
/// (`y = x + attn(ln₁ x) + mlp(ln₂ x)`, GPT-NeoX).
struct TransformerBlock: Sendable {
    /// `attn_norm` and `mlp_norm`.
    let attentionNorm, mlpNorm: NormLayer
    /// The branches.
    let attention: AttentionBlock
    let mlp: MLPBlock
    /// How they combine.
    let residual: ModelArchitecture.Residual

    /// The activations of one block kept for its backward pass.
    final class Cache<T: ReferenceScalar> {
        /// The block input.
        let x: ScalarBuffer<T>
        let attentionNorm: NormLayer.Cache<T>
        let attention: AttentionBlock.Cache<T>
        /// x + attention branch.
        let mid: ScalarBuffer<T>
        let mlpNorm: NormLayer.Cache<T>
        let mlp: MLPBlock.Cache<T>

        init(_ block: TransformerBlock, input x: ScalarBuffer<T>, recycler: PageRecycler) {
            self.x = x
            attentionNorm = .init(block.attentionNorm, recycler: recycler)
            attention = .init(block.attention, recycler: recycler)
            mid = recycler.buffer(block.attention.rows * block.attention.hidden)
            mlpNorm = .init(block.mlpNorm, recycler: recycler)
            mlp = .init(block.mlp, recycler: recycler)
        }
    }

    /// Scratch of the backward pass, shared by all blocks.
    final class Scratch<T: ReferenceScalar> {
        /// ∂L/∂(norm output) of a branch `[rows, C]`; `dh2` for the attention branch of a
        /// parallel block, whose MLP branch still holds `dh`.
        let dh: ScalarBuffer<T>
        let dh2: ScalarBuffer<T>?
        let mlp: MLPBlock.Scratch<T>
        /// ∂L/∂q, ∂L/∂k, ∂L/∂v.
        let dq, dk, dv: ScalarBuffer<T>

        init(_ block: TransformerBlock, dh: ScalarBuffer<T>, recycler: PageRecycler) {
            let a = block.attention
            self.dh = dh
            mlp = .init(block.mlp, recycler: recycler)
            dq = recycler.buffer(a.rows * a.hidden)
            dk = recycler.buffer(a.rows * a.kvWidth)
            dv = recycler.buffer(a.rows * a.kvWidth)
            dh2 = block.residual == .parallel ? recycler.buffer(a.rows * a.hidden) : nil
        }
    }

    /// The block's output for input `x`, written into `y`, with its activations in `cache`.
    func forward<T: ReferenceScalar>(
        _ cache: Cache<T>, into y: UnsafeMutablePointer<T>, _ w: BlockWeights<T>, rotary: RotaryKernel<T>?
    ) {
        let x = cache.x.pointer
        attentionNorm.forward(x, w.attentionNorm, into: cache.attentionNorm)
        attention.forward(cache.attentionNorm.y.pointer, residual: x, into: cache.mid.pointer, w, rotary: rotary, cache: cache.attention)
        mlpNorm.forward(residual == .sequential ? cache.mid.pointer : x, w.mlpNorm, into: cache.mlpNorm)
        mlp.forward(cache.mlpNorm.y.pointer, residual: cache.mid.pointer, into: y, w, cache: cache.mlp)
    }

    /// Backward through the block, in place on `dx`: ∂L/∂y in, ∂L/∂x out; adds the weight
    /// gradients.
    func backward<T: ReferenceScalar>(
        _ dx: UnsafeMutablePointer<T>, _ cache: Cache<T>, _ w: BlockWeights<T>, rotary: RotaryKernel<T>?, scratch s: Scratch<T>,
        grads: GradientSink<T>
    ) {
        let dh = s.dh.pointer
        func attentionBack(into d: UnsafeMutablePointer<T>) {
            attention.backward(
                dy: dx, input: cache.attentionNorm.y.pointer, w, rotary: rotary, cache: cache.attention, dh: d,
                dq: s.dq.pointer, dk: s.dk.pointer, dv: s.dv.pointer, grads: grads)
        }
        mlp.backward(dy: dx, input: cache.mlpNorm.y.pointer, w, cache: cache.mlp, scratch: s.mlp, dh: dh, grads: grads)
        switch residual {
        case .parallel:
            // Both branches read ∂L/∂y before either norm adds into dx.
            guard let dh2 = s.dh2 else { preconditionFailure("parallel block without its second scratch buffer") }
            attentionBack(into: dh2.pointer)
            mlpNorm.backward(dy: dh, x: cache.x.pointer, w.mlpNorm, cache: cache.mlpNorm, dx: dx, grads: grads)
            attentionNorm.backward(dy: dh2.pointer, x: cache.x.pointer, w.attentionNorm, cache: cache.attentionNorm, dx: dx, grads: grads)
        case .sequential:
            // dx becomes ∂L/∂mid, which the attention branch then reads.
            mlpNorm.backward(dy: dh, x: cache.mid.pointer, w.mlpNorm, cache: cache.mlpNorm, dx: dx, grads: grads)
            attentionBack(into: dh)
            attentionNorm.backward(dy: dh, x: cache.x.pointer, w.attentionNorm, cache: cache.attentionNorm, dx: dx, grads: grads)
        }
    }
}
