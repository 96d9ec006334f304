import CheckpointStore

/// What a step needs in RAM, by part, for one batch shape (`formats/verify-step.md`, "Memory:
/// pipeline stages"): the sizes the pass allocates (parameters and gradients in fp32, the
/// activations each block saves for its backward, the logits), plus the working set of the
/// per-tensor update and a fixed allowance for the process itself.
public struct MemoryEstimate: Sendable, Equatable {
    /// Transformer blocks in the model.
    public let layers: Int
    /// One block's parameters in fp32 (its gradients are the same size).
    public let blockParameterBytes: Int
    /// The activations one block keeps for its backward pass.
    public let blockActivationBytes: Int
    /// Embeddings, final norm and head in fp32 (their gradients are the same size).
    public let edgeParameterBytes: Int
    /// Logits, the block-boundary activations (L+1 of `[B·T, C]`), the final norm's cache and
    /// the backward scratch.
    public let passBytes: Int
    /// The update (or the comparison) of one tensor: its optimizer state and results.
    public let updateBytes: Int
    /// The binary, its libraries and buffers: a fixed 256 MiB.
    public let processBytes: Int

    /// The estimate for `architecture` on a `batchSize` x `sequenceLength` batch; `streaming`
    /// is how many elements of a tensor the update handles at a time (nil: the whole tensor).
    public init(architecture a: ModelArchitecture, tensors: [(name: String, shape: [Int])], batchSize: Int, sequenceLength: Int, streaming: Int?) {
        let f = MemoryLayout<Float>.stride
        var block = 0, edge = 0, largest = 0
        for t in tensors {
            let n = t.shape.reduce(1, *)
            largest = max(largest, n)
            if t.name.hasPrefix("layers.0.") { block += n } else if !t.name.hasPrefix("layers.") { edge += n }
        }
        let n = batchSize * sequenceLength, c = a.hidden, kv = a.kvHeads * a.headDim, ffn = a.ffn
        let swiglu = a.mlp == .swiglu
        // Two norm caches (y, mean, rstd), q k v, the probabilities, the attention output, the
        // mid residual, the MLP's up (and gate) and activation.
        let probabilities = batchSize * a.heads * sequenceLength * sequenceLength
        let activations = 2 * (n * c + 2 * n) + n * c + 2 * n * kv + probabilities + n * c + n * c + (swiglu ? 3 : 2) * n * ffn
        // ∂L/∂h, dq dk dv, the MLP's wide scratch, NeoX's second branch buffer.
        let scratch = n * c + n * c + 2 * n * kv + (swiglu ? 2 : 1) * n * ffn + (a.residual == .parallel ? n * c : 0)
        let pass = n * a.vocab + (a.layers + 1) * n * c + (n * c + 2 * n) + n * c + scratch
        let perTensor = streaming.map { min($0, largest) } ?? largest
        layers = a.layers
        blockParameterBytes = block * f
        blockActivationBytes = activations * f
        edgeParameterBytes = edge * f
        passBytes = pass * f
        // A whole tensor: θ, m, v, the stored rounding and a read buffer. Streamed in blocks: ten
        // block-sized arrays, enough for the comparison (B's parameter, state and master too);
        // the step's row-block update needs fewer, so its figure is an upper bound.
        updateBytes = (streaming == nil ? 5 : 10) * perTensor * f
        processBytes = 256 << 20
    }

    /// Peak with every parameter, gradient and activation resident (the in-memory pass).
    public var inMemoryBytes: Int {
        processBytes + 2 * (edgeParameterBytes + layers * blockParameterBytes) + layers * blockActivationBytes + passBytes + updateBytes
    }

    /// Peak of a pipelined pass keeping `residentBlocks` blocks' parameters and activations at a
    /// time; gradients exist for one block at a time besides the edge tensors'.
    public func pipelinedBytes(residentBlocks k: Int) -> Int {
        processBytes + 2 * edgeParameterBytes + k * (blockParameterBytes + blockActivationBytes) + blockParameterBytes + passBytes
            + updateBytes
    }
}
