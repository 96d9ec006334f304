import CheckpointStore

/// The reference model: a validated GPT-2/GPT-3 family configuration whose loss and gradients
/// are computed in fp32 (matrix products in BLAS, the rest vectorised and parallel; the loss
/// in Float64).
public struct ReferenceModel: Sendable {
    /// The architecture.
    public let config: ModelConfig
    let gelu: GELUKernel.Kind

    /// Accepts `config` if the reference core computes it: family `gpt2`, LayerNorm, learned
    /// positions, `gelu_tanh` or `gelu`. `path` names the checkpoint in errors.
    public init(config: ModelConfig, path: String = "model_config") throws(ReferenceError) {
        if let problem = config.validationProblem() { throw .unsupportedModel(path: path, detail: problem) }
        guard config.family == "gpt2" else {
            throw .unsupportedModel(path: path, detail: "family '\(config.family)'; only gpt2 is computed")
        }
        guard config.norm == "layernorm" else { throw .unsupportedModel(path: path, detail: "norm '\(config.norm)'; gpt2 uses layernorm") }
        guard config.position == "learned" else {
            throw .unsupportedModel(path: path, detail: "position '\(config.position)'; gpt2 uses learned positions")
        }
        switch config.activation {
        case "gelu_tanh": gelu = .tanh
        case "gelu": gelu = .erf
        default: throw .unsupportedModel(path: path, detail: "activation '\(config.activation)'; gpt2 uses gelu or gelu_tanh")
        }
        self.config = config
    }

    /// The canonical parameter tensors (name, shape) of the model.
    public var parameterTensors: [(name: String, shape: [Int])] { config.canonicalTensors() }

    /// Mean cross-entropy of `batch` (forward pass only). The batch must have been validated
    /// (`TokenBatch.validate`).
    public func loss(parameters: TensorBuffers<Float>, batch: TokenBatch) -> Double {
        run(parameters: parameters, batch: batch, gradients: nil)
    }

    /// Mean cross-entropy of `batch` and its gradient for every parameter.
    public func lossAndGradients(parameters: TensorBuffers<Float>, batch: TokenBatch) -> (loss: Double, gradients: TensorBuffers<Float>) {
        let g = TensorBuffers<Float>(shapesOf: parameters)
        let loss = run(parameters: parameters, batch: batch, gradients: g)
        return (loss, g)
    }

    /// Loss, gradients and their global L2 norm (`Reductions.globalNorm`, the same value and
    /// summation order), each tensor's Σg² taken as soon as its gradient is final in the
    /// backward pass, while it is still in cache.
    func lossGradientsAndNorm(parameters: TensorBuffers<Float>, batch: TokenBatch) -> (loss: Double, gradients: TensorBuffers<Float>, norm: Double) {
        let g = TensorBuffers<Float>(shapesOf: parameters)
        var squares: [String: Double] = [:]
        let loss = GPTCore<Float>(config: config, gelu: gelu).run(params: parameters, batch: batch, gradients: g) { finished in
            for name in g.names where name == finished || (finished.hasSuffix(".") && name.hasPrefix(finished)) {
                if let b = g[name] { squares[name] = Reductions.sumOfSquares(b.pointer, count: b.count) }
            }
        }
        return (loss, g, Reductions.globalNorm(g, known: squares))
    }

    /// The pass in any scalar type (the Float64 instance serves the gradient check).
    func run<T: ReferenceScalar>(parameters: TensorBuffers<T>, batch: TokenBatch, gradients: TensorBuffers<T>?) -> Double {
        GPTCore<T>(config: config, gelu: gelu).run(params: parameters, batch: batch, gradients: gradients)
    }
}
