/// The weights of one norm layer: the scale `[C]` and, for LayerNorm with biases, the shift `[C]`.
struct NormWeights<T: ReferenceScalar> {
    /// `<prefix>.weight`.
    let weight: BoundTensor<T>
    /// `<prefix>.bias` (LayerNorm in a model with biases), else nil.
    let bias: BoundTensor<T>?

    /// Binds `<prefix>.weight` and, when `bias`, `<prefix>.bias`, both `[columns]`.
    static func bind(_ prefix: String, columns: Int, bias: Bool, from tensors: TensorBuffers<T>, source: String) throws(ReferenceError) -> NormWeights {
        NormWeights(
            weight: try .bind(prefix + ".weight", shape: [columns], from: tensors, source: source),
            bias: bias ? try .bind(prefix + ".bias", shape: [columns], from: tensors, source: source) : nil)
    }

    /// The bound tensors.
    var tensors: [BoundTensor<T>] { [weight] + (bias.map { [$0] } ?? []) }
}
