/// The activation handed from one pipeline stage to the next: the `[B·T, C]` input of block
/// `block` (the output of the blocks before it, or of the embedding for block 0). It is the
/// only value that crosses a stage boundary in the forward pass; in the backward pass ∂L/∂x
/// crosses back the same way.
struct StageBoundary<T: ReferenceScalar> {
    /// The first block of the stage the activation feeds.
    let block: Int
    /// `[B·T, C]`.
    let activation: ScalarBuffer<T>
}
