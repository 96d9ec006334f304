import CheckpointStore

/// One forward and backward pass of the reference model over pipeline stages, in memory
/// bounded by a stage rather than by the model (`formats/verify-step.md`, "Memory: pipeline
/// stages").
///
/// Forward: each stage reads its blocks' parameters, runs them from the `StageBoundary` it is
/// handed, keeps only each block's input (`[B·T, C]`) and hands its output on; its parameters
/// and activations are then freed, except the last stage's, whose backward comes next.
/// Backward, stages in reverse: a stage reads its parameters again, recomputes its blocks'
/// forward from the saved inputs (the same kernels on the same values: the same activations,
/// bit for bit), runs their backward and reports each block's gradients final before the next
/// block's are created. The embeddings, the final norm and the head stay resident throughout.
/// The kernels and their order are those of the in-memory pass (`TransformerCore`), so loss and
/// gradients are identical to it.
struct PipelineRunner {
    /// The model.
    let architecture: ModelArchitecture
    /// The stages, in forward order, covering every block once.
    let stages: [PipelineStage]
    /// Where parameters are read from (listed, loaded by stage).
    let state: ReferenceState

    /// Runs the pass on `batch` (validated) and returns the mean loss. Gradients are created in
    /// `gradients` (listing every parameter) as the backward pass reaches them; `finished` gets
    /// the names of each group whose gradients are final (the final norm and an untied head,
    /// then each block from the last, then the embeddings) and should release them.
    func run(
        batch: TokenBatch, gradients: TensorBuffers<Float>, finished: ([String]) throws(ReferenceError) -> Void
    ) throws(ReferenceError) -> Double {
        let a = architecture, p = state.parameters, path = state.source.path
        let groups = TensorGroups(names: gradients.names, layers: a.layers)
        let recycler = PageRecycler()
        defer { recycler.close() }
        defer { for name in groups.edge { p.release(name) } }
        let core = TransformerCore<Float>(architecture: a)
        let parts = core.layers(for: batch)
        let n = batch.batchSize * batch.sequenceLength, c = a.hidden
        let sink = try GradientSink(gradients, for: [], recycler: recycler, source: path)
        try state.load(groups.edge, recycler: recycler)
        let tokens = try BoundTensor.bind("embed.tokens.weight", shape: [a.vocab, c], from: p, source: path)
        let positions = a.positions == .learned ? try BoundTensor.bind("embed.positions.weight", shape: [a.maxSeq, c], from: p, source: path) : nil
        let finalNorm = try NormWeights.bind("final_norm", columns: c, bias: a.normHasBias, from: p, source: path)
        let head = a.tiedHead ? tokens : try BoundTensor.bind("lm_head.weight", shape: [a.vocab, c], from: p, source: path)

        func bind(_ stage: PipelineStage) throws(ReferenceError) -> [BlockWeights<Float>] {
            try state.load(stage.blocks.flatMap { groups.blocks[$0] }, recycler: recycler)
            var out: [BlockWeights<Float>] = []
            for l in stage.blocks { out.append(try .bind(l, a, from: p, source: path)) }
            return out
        }
        func release(_ stage: PipelineStage) { for l in stage.blocks { for name in groups.blocks[l] { p.release(name) } } }
        defer { for stage in stages { release(stage) } }

        // Forward, stage by stage; block inputs are kept, the last stage keeps everything.
        var inputs = [ScalarBuffer<Float>?](repeating: nil, count: a.layers)
        var boundary = StageBoundary(block: 0, activation: recycler.buffer(n * c, of: Float.self))
        parts.embedding.forward(batch.inputs, tokens: tokens, positions: positions, into: boundary.activation.pointer)
        var kept: (caches: [TransformerBlock.Cache<Float>], weights: [BlockWeights<Float>]) = ([], [])
        for stage in stages {
            let last = stage.index == stages.count - 1
            let weights = try bind(stage)
            var x = boundary.activation
            for (j, l) in stage.blocks.enumerated() {
                inputs[l] = x
                let cache = TransformerBlock.Cache(parts.block, input: x, recycler: recycler)
                let y: ScalarBuffer<Float> = recycler.buffer(n * c)
                parts.block.forward(cache, into: y.pointer, weights[j], rotary: parts.rotary)
                if last { kept.caches.append(cache) }
                x = y
            }
            boundary = StageBoundary(block: stage.blocks.upperBound, activation: x)
            if last { kept.weights = weights } else { release(stage) }
        }

        // The final norm, the head and the loss.
        let x = boundary.activation
        let final = NormLayer.Cache<Float>(parts.norm, recycler: recycler)
        parts.norm.forward(x.pointer, finalNorm, into: final)
        let (loss, dhOut) = core.head(final.y, head, batch: batch, grads: sink, recycler: recycler)
        guard let dh = dhOut else { preconditionFailure("the head returned no gradient with a gradient sink") }
        let dx: ScalarBuffer<Float> = recycler.buffer(n * c)
        parts.norm.backward(dy: dh.pointer, x: x.pointer, finalNorm, cache: final, dx: dx.pointer, grads: sink)
        try finished(finalNorm.tensors.map(\.name) + (a.tiedHead ? [] : [head.name]))

        // Backward, stages in reverse; ∂L/∂x crosses each boundary in `dx`.
        let scratch = TransformerBlock.Scratch(parts.block, dh: dh, recycler: recycler)
        for stage in stages.reversed() {
            var caches: [TransformerBlock.Cache<Float>], weights: [BlockWeights<Float>]
            if stage.index == stages.count - 1 {
                (caches, weights) = kept
                kept = ([], [])
            } else {
                weights = try bind(stage)
                caches = []
                for (j, l) in stage.blocks.enumerated() {
                    guard let input = inputs[l] else { preconditionFailure("block \(l) has no saved input") }
                    let cache = TransformerBlock.Cache(parts.block, input: input, recycler: recycler)
                    let y: ScalarBuffer<Float> = recycler.buffer(n * c)
                    parts.block.forward(cache, into: y.pointer, weights[j], rotary: parts.rotary)
                    caches.append(cache)
                }
            }
            for (j, l) in stage.blocks.enumerated().reversed() {
                parts.block.backward(dx.pointer, caches[j], weights[j], rotary: parts.rotary, scratch: scratch, grads: sink)
                caches.removeLast()
                inputs[l] = nil
                try finished(groups.blocks[l])
            }
            weights = []
            release(stage)
        }
        parts.embedding.backward(dx.pointer, batch.inputs, tokens: tokens, positions: positions, grads: sink)
        try finished(groups.embedding)
        return loss
    }
}
