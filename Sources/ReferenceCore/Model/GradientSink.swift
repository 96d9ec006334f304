/// Where the backward pass adds ∂loss/∂θ: the gradient buffer of each bound tensor, created
/// zero-filled when the pass first reaches it, in memory the pass has freed by then where it
/// fits (`PageRecycler`).
final class GradientSink<T: ReferenceScalar> {
    /// The gradients, listed under the parameters' names and shapes.
    let gradients: TensorBuffers<T>
    /// The pass's freed memory.
    let recycler: PageRecycler

    /// A sink into `gradients`, which must list every one of `tensors` with its size (checked
    /// here, so the pass cannot reach a tensor without a gradient).
    init(_ gradients: TensorBuffers<T>, for tensors: [BoundTensor<T>], recycler: PageRecycler, source: String) throws(ReferenceError) {
        for t in tensors {
            guard let shape = gradients.shapes[t.name] else { throw .missingTensor(path: source + " (gradients)", tensor: t.name) }
            guard shape.reduce(1, *) == t.count else {
                throw .invalidArgument("\(source) (gradients): tensor \(t.name) has \(shape.reduce(1, *)) elements, the parameter \(t.count)")
            }
        }
        self.gradients = gradients
        self.recycler = recycler
    }

    /// The gradient of `t`.
    func pointer(_ t: BoundTensor<T>) -> UnsafeMutablePointer<T> { gradients.materialize(t.name, recycler: recycler).pointer }

    /// The gradient of `t` when it is bound (an optional bias), else nil.
    func pointer(ifBound t: BoundTensor<T>?) -> UnsafeMutablePointer<T>? { t.map { pointer($0) } }
}
