/// One normalisation layer of the model over `[rows, columns]` activations: LayerNorm (with
/// or without bias) or RMSNorm, as the architecture says.
struct NormLayer: Sendable {
    /// Which norm.
    let kind: ModelArchitecture.Norm
    /// Its epsilon.
    let eps: Double
    /// Rows (tokens) and columns (C).
    let rows, columns: Int

    /// What the backward pass needs: the output and the per-row statistics.
    final class Cache<T: ReferenceScalar> {
        /// Per-row mean (LayerNorm; unused by RMSNorm, `rows` elements).
        let mean: ScalarBuffer<T>
        /// Per-row 1/σ (LayerNorm) or 1/rms (RMSNorm).
        let rstd: ScalarBuffer<T>
        /// The normalised output `[rows, columns]`.
        let y: ScalarBuffer<T>

        init(_ layer: NormLayer, recycler: PageRecycler) {
            mean = recycler.buffer(layer.rows)
            rstd = recycler.buffer(layer.rows)
            y = recycler.buffer(layer.rows * layer.columns)
        }
    }

    /// y = norm(x) into `cache`.
    func forward<T: ReferenceScalar>(_ x: UnsafePointer<T>, _ w: NormWeights<T>, into cache: Cache<T>) {
        switch kind {
        case .layerNorm:
            LayerNormKernel.forward(
                x: x, w: w.weight.pointer, b: w.bias?.pointer, y: cache.y.pointer, mean: cache.mean.pointer, rstd: cache.rstd.pointer,
                rows: rows, columns: columns, eps: T(eps))
        case .rmsNorm:
            RMSNormKernel.forward(x: x, w: w.weight.pointer, y: cache.y.pointer, rstd: cache.rstd.pointer, rows: rows, columns: columns, eps: T(eps))
        }
    }

    /// dx += ∂L/∂x from dy (x the forward input), and the weight (and bias) gradients.
    func backward<T: ReferenceScalar>(
        dy: UnsafePointer<T>, x: UnsafePointer<T>, _ w: NormWeights<T>, cache: Cache<T>, dx: UnsafeMutablePointer<T>, grads: GradientSink<T>
    ) {
        switch kind {
        case .layerNorm:
            LayerNormKernel.backward(
                dy: dy, x: x, w: w.weight.pointer, mean: cache.mean.pointer, rstd: cache.rstd.pointer, dx: dx,
                dw: grads.pointer(w.weight), db: grads.pointer(ifBound: w.bias), rows: rows, columns: columns)
        case .rmsNorm:
            RMSNormKernel.backward(
                dy: dy, x: x, w: w.weight.pointer, rstd: cache.rstd.pointer, dx: dx, dw: grads.pointer(w.weight), rows: rows, columns: columns)
        }
    }
}
