/// AdamW hyperparameters, stored as the `optimizer` JSON attribute.
public struct OptimizerConfig: Codable, Sendable, Hashable {
    /// `torch` (PyTorch AdamW) or `decoupled` (Apex/Megatron/llm.c); see `formats/optimizer.md`.
    public var variant: String
    /// Learning rate of the next step.
    public var lr: Double
    /// First-moment decay.
    public var beta1: Double
    /// Second-moment decay.
    public var beta2: Double
    /// Denominator epsilon.
    public var eps: Double
    /// Weight decay coefficient λ.
    public var weightDecay: Double
    /// Global L2 gradient-norm clip (0 disables clipping).
    public var gradClip: Double
    /// Which tensors decay: `all`, or `matrices` (rank >= 2).
    public var decay: String

    enum CodingKeys: String, CodingKey {
        case variant, lr, beta1, beta2, eps, decay
        case weightDecay = "weight_decay", gradClip = "grad_clip"
    }

    /// Creates a configuration with the usual GPT defaults.
    public init(
        variant: String = "torch", lr: Double = 6e-4, beta1: Double = 0.9, beta2: Double = 0.95,
        eps: Double = 1e-8, weightDecay: Double = 0.1, gradClip: Double = 1.0, decay: String = "matrices"
    ) {
        self.variant = variant
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.gradClip = gradClip
        self.decay = decay
    }
}
