/// Loss, gradients and global norm of one batch.
public struct StepGradients {
    /// Mean cross-entropy (Float64).
    public var loss: Double
    /// ∂loss/∂θ per parameter, before clipping.
    public var gradients: TensorBuffers<Float>
    /// Global L2 norm of the gradients (Float64).
    public var globalNorm: Double
    /// The clipping coefficient applied in the update (1 = no clipping).
    public var clipCoefficient: Double
}
