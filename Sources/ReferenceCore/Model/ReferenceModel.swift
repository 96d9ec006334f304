import CheckpointStore

/// The reference model: a configuration the core computes (`ModelArchitecture`: GPT-2/GPT-3,
/// LLaMA-style and GPT-NeoX-style blocks), whose loss and gradients are computed in fp32
/// (matrix products in BLAS, the rest vectorised and parallel; the loss in Float64).
public struct ReferenceModel: Sendable {
    /// The configuration.
    public let config: ModelConfig
    /// The parts it is composed of.
    public let architecture: ModelArchitecture

    /// Accepts `config` if the reference core computes it (`ModelArchitecture`). `path` names
    /// the checkpoint in errors.
    public init(config: ModelConfig, path: String = "model_config") throws(ReferenceError) {
        architecture = try ModelArchitecture(config: config, path: path)
        self.config = config
    }

    /// The canonical parameter tensors (name, shape) of the model.
    public var parameterTensors: [(name: String, shape: [Int])] { config.canonicalTensors() }

    /// Mean cross-entropy of `batch` (forward pass only). The batch must have been validated
    /// (`TokenBatch.validate`); `parameters` must hold exactly the model's tensors.
    public func loss(parameters: TensorBuffers<Float>, batch: TokenBatch) throws(ReferenceError) -> Double {
        try run(parameters: parameters, batch: batch, gradients: nil)
    }

    /// Mean cross-entropy of `batch` and its gradient for every parameter.
    public func lossAndGradients(
        parameters: TensorBuffers<Float>, batch: TokenBatch
    ) throws(ReferenceError) -> (loss: Double, gradients: TensorBuffers<Float>) {
        let g = TensorBuffers<Float>(shapesOf: parameters)
        let loss = try run(parameters: parameters, batch: batch, gradients: g)
        return (loss, g)
    }

    /// Loss, gradients and their global L2 norm (`Reductions.globalNorm`, the same value and
    /// summation order), each tensor's Σg² taken as soon as its gradient is final in the
    /// backward pass, while it is still in cache. `source` names the parameters in errors.
    func lossGradientsAndNorm(
        parameters: TensorBuffers<Float>, batch: TokenBatch, source: String = "parameters"
    ) throws(ReferenceError) -> (loss: Double, gradients: TensorBuffers<Float>, norm: Double) {
        let g = TensorBuffers<Float>(shapesOf: parameters)
        var squares: [String: Double] = [:]
        let loss = try run(parameters: parameters, batch: batch, gradients: g, source: source) { finished in
            for name in g.names where name == finished || (finished.hasSuffix(".") && name.hasPrefix(finished)) {
                if let b = g[name] { squares[name] = Reductions.sumOfSquares(b.pointer, count: b.count) }
            }
        }
        return (loss, g, Reductions.globalNorm(g, known: squares))
    }

    /// The pass in any scalar type (the Float64 instance serves the gradient checks): binds
    /// `parameters` by canonical name, runs the forward pass and, when `gradients` is given
    /// (listing the parameters' names and shapes; buffers are created as the backward pass
    /// reaches them), the backward pass adding into it.
    func run<T: ReferenceScalar>(
        parameters: TensorBuffers<T>, batch: TokenBatch, gradients: TensorBuffers<T>?, source: String = "parameters",
        finished: ((String) -> Void)? = nil
    ) throws(ReferenceError) -> Double {
        let weights = try ModelWeights.bind(architecture, from: parameters, source: source)
        // Activations freed during the pass are reused by its later buffers (gradients above all).
        let recycler = PageRecycler()
        let sink: GradientSink<T>?
        do throws(ReferenceError) {
            sink = try gradients.map { (g) throws(ReferenceError) in try GradientSink(g, for: weights.tensors, recycler: recycler, source: source) }
        } catch {
            recycler.close()
            throw error
        }
        return TransformerCore<T>(architecture: architecture).run(weights, batch: batch, grads: sink, recycler: recycler, finished: finished)
    }
}
