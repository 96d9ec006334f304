/// The weights of one fully connected layer, `y = x·Wᵀ + b`: `W` is `[out, in]`, `b` (when the
/// model has biases) `[out]`.
struct LinearWeights<T: ReferenceScalar> {
    /// `<prefix>.weight`.
    let weight: BoundTensor<T>
    /// `<prefix>.bias`, nil without biases.
    let bias: BoundTensor<T>?
    /// Input features.
    let inFeatures: Int
    /// Output features.
    let outFeatures: Int

    /// Binds `<prefix>.weight` `[out, in]` and, when `bias`, `<prefix>.bias` `[out]`.
    static func bind(
        _ prefix: String, out: Int, in inFeatures: Int, bias: Bool, from tensors: TensorBuffers<T>, source: String
    ) throws(ReferenceError) -> LinearWeights {
        LinearWeights(
            weight: try .bind(prefix + ".weight", shape: [out, inFeatures], from: tensors, source: source),
            bias: bias ? try .bind(prefix + ".bias", shape: [out], from: tensors, source: source) : nil,
            inFeatures: inFeatures, outFeatures: out)
    }

    /// The bound tensors.
    var tensors: [BoundTensor<T>] { [weight] + (bias.map { [$0] } ?? []) }
}
