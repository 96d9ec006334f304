import CheckpointStore
import Dispatch

extension ReferenceState {
    /// What `forEachFinalGradient` computed.
    public struct PassSummary: Sendable {
        /// Mean loss at θ before the step.
        public var loss: Double
        /// Global gradient norm before clipping (Float64, canonical order).
        public var globalNorm: Double
        /// The clipping coefficient every update used.
        public var clipCoefficient: Double
        /// Seconds in the forward and backward passes (parameter reads and `apply` excluded).
        public var computeSeconds: Double
    }

    /// The plan for a step on `batch` under `memory`; `streaming` as `MemoryEstimate`.
    public func plan(batch: TokenBatch, memory: StepMemory, streaming: Int?) throws(ReferenceError) -> PipelinePlan {
        let estimate = MemoryEstimate(
            architecture: model.architecture, tensors: model.parameterTensors, batchSize: batch.batchSize,
            sequenceLength: batch.sequenceLength, streaming: streaming)
        return try PipelinePlan.make(
            estimate: estimate, memory: memory, clipped: optimizer.config.gradClip > 0,
            spillRoom: memory.clipping == .auto ? memory.scratchRoom : nil, path: source.path)
    }

    /// Runs the step's forward and backward pass(es) on `batch` as `plan` says and calls `apply`
    /// once per parameter with its final gradient and the clipping coefficient, while the
    /// parameter is loaded (`parameters[name]`); gradient and parameter are freed after it
    /// returns. The loss, norm, coefficient and every gradient are the same, bit for bit, in
    /// every mode; only the order of the calls differs (canonical in memory and with a spill,
    /// last block first when updating during the backward pass). The state must have been
    /// created without loading parameters unless the plan is in memory.
    public func forEachFinalGradient(
        batch: TokenBatch, batchPath: String, plan: PipelinePlan, scratchDirectory: String = StepMemory.defaultScratchDirectory,
        apply: (String, ScalarBuffer<Float>, Double) throws(ReferenceError) -> Void
    ) throws(ReferenceError) -> PassSummary {
        try batch.validate(vocab: model.config.vocab, maxSeq: model.config.maxSeq, path: batchPath)
        let names = parameters.names
        var applySeconds = 0.0
        let start = DispatchTime.now().uptimeNanoseconds, loadStart = loadNanoseconds
        func applied(_ name: String, _ g: ScalarBuffer<Float>, _ clip: Double) throws(ReferenceError) {
            let t = DispatchTime.now().uptimeNanoseconds
            defer { applySeconds += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }
            try apply(name, g, clip)
        }
        func summary(_ loss: Double, _ norm: Double, _ clip: Double) -> PassSummary {
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let loads = Double(loadNanoseconds - loadStart) / 1e9
            return PassSummary(loss: loss, globalNorm: norm, clipCoefficient: clip, computeSeconds: max(0, total - loads - applySeconds))
        }
        if plan.mode == .inMemory {
            try load(names, recycler: nil)
            let (loss, grads, norm) = try model.lossGradientsAndNorm(parameters: parameters, batch: batch, source: source.path)
            let clip = optimizer.clipCoefficient(globalNorm: norm)
            for name in names {
                guard let g = grads[name] else { throw .missingTensor(path: source.path, tensor: name) }
                try applied(name, g, clip)
                grads.release(name)
                parameters.release(name)
            }
            return summary(loss, norm, clip)
        }

        let runner = PipelineRunner(architecture: model.architecture, stages: plan.stages, state: self)
        var squares: [String: Double] = [:]
        func norm() -> Double { names.reduce(0.0) { $0 + (squares[$1] ?? 0) }.squareRoot() }
        func pass(_ each: (String, ScalarBuffer<Float>) throws(ReferenceError) -> Void) throws(ReferenceError) -> Double {
            let grads = TensorBuffers<Float>(tensors: model.parameterTensors, allocate: false)
            return try runner.run(batch: batch, gradients: grads) { (done) throws(ReferenceError) in
                for name in done {
                    guard let g = grads[name] else { throw .missingTensor(path: source.path + " (gradients)", tensor: name) }
                    try each(name, g)
                    grads.release(name)
                }
            }
        }
        switch plan.mode {
        case .inMemory:
            preconditionFailure("handled above")
        case .singlePass:
            // No clipping: the coefficient is 1 whatever the norm.
            let clip = optimizer.clipCoefficient(globalNorm: 0)
            let loss = try pass { (name, g) throws(ReferenceError) in
                squares[name] = Reductions.sumOfSquares(g.pointer, count: g.count)
                try applied(name, g, clip)
            }
            return summary(loss, norm(), clip)
        case .twoPass:
            let loss = try pass { name, g in squares[name] = Reductions.sumOfSquares(g.pointer, count: g.count) }
            let n = norm(), clip = optimizer.clipCoefficient(globalNorm: n)
            let again = try pass { (name, g) throws(ReferenceError) in try applied(name, g, clip) }
            guard again.bitPattern == loss.bitPattern else {
                throw .invalidArgument("\(source.path): the second pass recomputed loss \(again), the first \(loss); the reference is not deterministic here")
            }
            return summary(loss, n, clip)
        case .spill:
            let spill = try GradientSpill(directory: scratchDirectory)
            let loss = try pass { (name, g) throws(ReferenceError) in
                squares[name] = Reductions.sumOfSquares(g.pointer, count: g.count)
                try spill.write(name, UnsafeBufferPointer(start: g.pointer, count: g.count))
            }
            let n = norm(), clip = optimizer.clipCoefficient(globalNorm: n)
            for name in names {
                try load([name], recycler: nil)
                guard let shape = parameters.shapes[name] else { throw .missingTensor(path: source.path, tensor: name) }
                let g = ScalarBuffer<Float>(count: shape.reduce(1, *))
                try spill.read(name, into: UnsafeMutableBufferPointer(start: g.pointer, count: g.count))
                try applied(name, g, clip)
                parameters.release(name)
            }
            return summary(loss, n, clip)
        }
    }
}
