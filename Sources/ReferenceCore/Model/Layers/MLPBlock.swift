/// The MLP branch of a block, added onto a residual: y = residual + down(act(h)) with
/// act = GELU (tanh or exact erf) of `up h`, or SwiGLU `silu(gate h) · up h`.
struct MLPBlock: Sendable {
    /// Which MLP.
    let kind: ModelArchitecture.MLP
    /// Rows B·T, width C, inner width F.
    let rows, hidden, ffn: Int

    /// What the backward pass needs.
    final class Cache<T: ReferenceScalar> {
        /// `up h` `[rows, F]`.
        let up: ScalarBuffer<T>
        /// `gate h` `[rows, F]` (SwiGLU only).
        let gate: ScalarBuffer<T>?
        /// The activation, the input of `down` `[rows, F]`.
        let act: ScalarBuffer<T>

        init(_ block: MLPBlock, recycler: PageRecycler) {
            let n = block.rows * block.ffn
            up = recycler.buffer(n)
            gate = block.kind == .swiglu ? recycler.buffer(n) : nil
            act = recycler.buffer(n)
        }
    }

    /// Scratch of the backward pass, `[rows, F]` each (the second for SwiGLU only).
    final class Scratch<T: ReferenceScalar> {
        let wide: ScalarBuffer<T>
        let wide2: ScalarBuffer<T>?
        init(_ block: MLPBlock, recycler: PageRecycler) {
            wide = recycler.buffer(block.rows * block.ffn)
            wide2 = block.kind == .swiglu ? recycler.buffer(block.rows * block.ffn) : nil
        }
    }

    /// y = residual + down(act(h)), saving what the backward pass needs in `cache`.
    func forward<T: ReferenceScalar>(
        _ h: UnsafePointer<T>, residual: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, _ w: BlockWeights<T>, cache: Cache<T>
    ) {
        LinearKernel.forward(
            x: h, w: w.up.weight.pointer, bias: w.up.bias?.pointer, y: cache.up.pointer, rows: rows, inFeatures: hidden, outFeatures: ffn)
        switch (kind, w.gate, cache.gate) {
        case (.swiglu, let gate?, let g?):
            LinearKernel.forward(
                x: h, w: gate.weight.pointer, bias: gate.bias?.pointer, y: g.pointer, rows: rows, inFeatures: hidden, outFeatures: ffn)
            SwiGLUKernel.forward(gate: g.pointer, up: cache.up.pointer, out: cache.act.pointer, count: rows * ffn)
        case (.geluTanh, _, _):
            GELUKernel.forward(.tanh, u: cache.up.pointer, out: cache.act.pointer, count: rows * ffn)
        case (.geluErf, _, _):
            GELUKernel.forward(.erf, u: cache.up.pointer, out: cache.act.pointer, count: rows * ffn)
        case (.swiglu, _, _):
            preconditionFailure("SwiGLU block without gate weights (ModelWeights binds them for swiglu)")
        }
        LinearKernel.forwardResidual(
            x: cache.act.pointer, w: w.down.weight.pointer, bias: w.down.bias?.pointer, residual: residual, y: y,
            rows: rows, inFeatures: ffn, outFeatures: hidden)
    }

    /// From dy = ∂L/∂y: writes ∂L/∂h into `dh` and adds the weight gradients.
    func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, input h: UnsafePointer<T>, _ w: BlockWeights<T>, cache: Cache<T>, scratch: Scratch<T>,
        dh: UnsafeMutablePointer<T>, grads: GradientSink<T>
    ) {
        let wide = scratch.wide.pointer
        LinearKernel.backward(
            dy: dy, x: cache.act.pointer, w: w.down.weight.pointer, dx: wide, accumulateDx: false, dw: grads.pointer(w.down.weight),
            dbias: grads.pointer(ifBound: w.down.bias), rows: rows, inFeatures: ffn, outFeatures: hidden)
        switch (kind, w.gate, cache.gate, scratch.wide2) {
        case (.swiglu, let gate?, let g?, let dUp?):
            SwiGLUKernel.backward(gate: g.pointer, up: cache.up.pointer, grad: wide, dUp: dUp.pointer, count: rows * ffn)
            LinearKernel.backward(
                dy: wide, x: h, w: gate.weight.pointer, dx: dh, accumulateDx: false, dw: grads.pointer(gate.weight),
                dbias: grads.pointer(ifBound: gate.bias), rows: rows, inFeatures: hidden, outFeatures: ffn)
            LinearKernel.backward(
                dy: dUp.pointer, x: h, w: w.up.weight.pointer, dx: dh, accumulateDx: true, dw: grads.pointer(w.up.weight),
                dbias: grads.pointer(ifBound: w.up.bias), rows: rows, inFeatures: hidden, outFeatures: ffn)
            return
        case (.geluTanh, _, _, _):
            GELUKernel.backward(.tanh, u: cache.up.pointer, grad: wide, count: rows * ffn)
        case (.geluErf, _, _, _):
            GELUKernel.backward(.erf, u: cache.up.pointer, grad: wide, count: rows * ffn)
        case (.swiglu, _, _, _):
            preconditionFailure("SwiGLU block without gate weights or scratch")
        }
        LinearKernel.backward(
            dy: wide, x: h, w: w.up.weight.pointer, dx: dh, accumulateDx: false, dw: grads.pointer(w.up.weight),
            dbias: grads.pointer(ifBound: w.up.bias), rows: rows, inFeatures: hidden, outFeatures: ffn)
    }
}
