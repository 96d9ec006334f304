/// The layer objects of one pass over a batch (`TransformerCore.layers(for:)`), shared by the
/// in-memory pass and the pipeline stages so both run exactly the same kernels.
struct PassLayers<T: ReferenceScalar> {
    /// Every transformer block (they all have the same shapes).
    let block: TransformerBlock
    /// The final norm (each block's norms have the same shape).
    let norm: NormLayer
    /// Token (and learned position) embedding.
    let embedding: EmbeddingLayer
    /// The rotary tables, with rotary positions.
    let rotary: RotaryKernel<T>?
}
