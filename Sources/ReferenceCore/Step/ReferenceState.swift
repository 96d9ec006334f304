import CheckpointStore
import Dispatch

/// The state a step starts from, loaded from a checkpoint: the model and optimizer from its
/// metadata and the parameters widened to fp32 in RAM — all of them, or (for a pipelined pass
/// in bounded memory) only those `load` brings in until they are released. Optimizer state is
/// not loaded here; `referenceUpdate` streams it per tensor.
public final class ReferenceState {
    /// Where the state was read from.
    public let source: any TensorSource
    /// The model from `model_config`.
    public let model: ReferenceModel
    /// The optimizer from `optimizer`.
    public let optimizer: AdamW
    /// Steps completed (`step` attribute).
    public let completedSteps: Int64
    /// Parameter values as the forward pass sees them (stored values widened to fp32).
    public let parameters: TensorBuffers<Float>
    /// Stored dtype of each parameter.
    public let parameterDTypes: [String: DType]
    /// Time spent in the AdamW passes of `referenceUpdate` so far.
    public private(set) var optimizerNanoseconds: UInt64 = 0
    /// Time spent reading parameters so far (the initial load included).
    public private(set) var loadNanoseconds: UInt64 = 0

    /// Loads metadata and parameters from `source`, checking every canonical tensor is present
    /// with its canonical shape. With `loadParameters` false the parameters are only listed
    /// (names and shapes) and `load` reads them when a pass needs them.
    public init(source: any TensorSource, loadParameters: Bool = true) throws(ReferenceError) {
        self.source = source
        let meta = source.metadata
        guard let config = meta.modelConfig else { throw .missingMetadata(path: source.path, what: "model_config") }
        guard let opt = meta.optimizer else { throw .missingMetadata(path: source.path, what: "optimizer") }
        model = try ReferenceModel(config: config, path: source.path)
        optimizer = try AdamW(config: opt, path: source.path)
        completedSteps = meta.step
        let tensors = config.canonicalTensors()
        var dtypes: [String: DType] = [:]
        for t in tensors {
            guard let d = source.describe(.model(t.name)) else { throw .missingTensor(path: source.path, tensor: t.name) }
            guard d.shape == t.shape else { throw .shapeMismatch(path: source.path, tensor: t.name, expected: t.shape, found: d.shape) }
            guard d.dtype.isFloatingPoint else {
                throw .unsupportedModel(path: source.path, detail: "tensor \(t.name) is \(d.dtype.rawValue), not a float type")
            }
            dtypes[t.name] = d.dtype
        }
        parameters = TensorBuffers<Float>(tensors: tensors, allocate: false)
        parameterDTypes = dtypes
        if loadParameters { try load(tensors.map(\.name), recycler: nil) }
    }

    /// Reads the parameters `names` that are not held yet (widened to fp32), in memory from
    /// `recycler` where it has a region that fits. `parameters.release` frees them again.
    func load(_ names: [String], recycler: PageRecycler?) throws(ReferenceError) {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { loadNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
        for name in names where !parameters.contains(name) {
            guard parameters.shapes[name] != nil else { throw .missingTensor(path: source.path, tensor: name) }
            let b = parameters.materialize(name, recycler: recycler)
            do throws(ReferenceError) {
                try source.readFloats(.model(name), into: UnsafeMutableBufferPointer(start: b.pointer, count: b.count))
            } catch {
                parameters.release(name)
                throw error
            }
        }
    }

    /// Loss, gradients and the clipping decision for `batch` (validated here).
    public func gradients(batch: TokenBatch, batchPath: String) throws(ReferenceError) -> StepGradients {
        try batch.validate(vocab: model.config.vocab, maxSeq: model.config.maxSeq, path: batchPath)
        let (loss, grads, norm) = try model.lossGradientsAndNorm(parameters: parameters, batch: batch, source: source.path)
        return StepGradients(loss: loss, gradients: grads, globalNorm: norm, clipCoefficient: optimizer.clipCoefficient(globalNorm: norm))
    }

    /// The reference update of one parameter: reads its master (if any), exp_avg and
    /// exp_avg_sq from the source (zeros for a checkpoint at step 0 without them), applies
    /// AdamW with `gradient · clipCoefficient` and rounds the new value to the parameter's
    /// stored dtype. `rows` restricts the update to rows of dimension 0 (nil = all), so callers
    /// can stream a large tensor in blocks. With `keepBefore` false the update runs in place and
    /// the result's `thetaBefore` is empty.
    public func referenceUpdate(
        name: String, gradient: ScalarBuffer<Float>, clipCoefficient: Double, rows: Range<Int>? = nil, keepBefore: Bool = true
    ) throws(ReferenceError) -> TensorUpdate {
        guard let shape = parameters.shapes[name], let dtype = parameterDTypes[name], let current = parameters[name] else {
            throw .missingTensor(path: source.path, tensor: name)
        }
        let rowElements = shape.dropFirst().reduce(1, *)
        let r = rows ?? 0..<(shape.first ?? 1)
        let offset = r.lowerBound * rowElements, count = r.count * rowElements
        let blockShape = shape.isEmpty ? shape : [r.count] + shape.dropFirst()
        let hasMaster = source.describe(.optimizer("master", name)) != nil
        var before =
            hasMaster
            ? try readState("master", name, shape, rows: rows)
            : Array(UnsafeBufferPointer(start: current.pointer + offset, count: count))
        var m = try readState("exp_avg", name, shape, rows: rows)
        var v = try readState("exp_avg_sq", name, shape, rows: rows)
        let decay = optimizer.decays(shape: shape)
        let start = DispatchTime.now().uptimeNanoseconds
        defer { optimizerNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
        func adamW(theta: UnsafeMutablePointer<Float>, source: UnsafePointer<Float>?) {
            m.withUnsafeMutableBufferPointer { mb in
                v.withUnsafeMutableBufferPointer { vb in
                    optimizer.update(
                        theta: theta, grad: gradient.pointer + offset, expAvg: mb.baseAddress!, expAvgSq: vb.baseAddress!,
                        count: count, decay: decay, gradScale: Float(clipCoefficient), completedSteps: completedSteps,
                        thetaSource: source)
                }
            }
        }
        let theta: [Float]
        if count == 0 {
            theta = before
        } else if keepBefore {
            // The new θ goes into fresh storage, read straight from θ before (no copy of it).
            theta = [Float](unsafeUninitializedCapacity: count) { tb, initialized in
                before.withUnsafeBufferPointer { bb in adamW(theta: tb.baseAddress!, source: bb.baseAddress!) }
                initialized = count
            }
        } else {
            // In place: every array the pass touches is already resident (no page faults).
            before.withUnsafeMutableBufferPointer { tb in adamW(theta: tb.baseAddress!, source: nil) }
            theta = before
            before = []
        }
        let stored: [Float]
        switch dtype {
        case .bfloat16: stored = theta.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: $0)) }
        case .float16: stored = theta.map { Float(Float16($0)) }
        default: stored = theta
        }
        return TensorUpdate(
            name: name, shape: blockShape, parameterDType: dtype, hasMaster: hasMaster, decayed: decay,
            thetaBefore: before, theta: theta, expAvg: m, expAvgSq: v, parameter: stored)
    }

    /// An optimizer state of `name` before the step (rows of it when `rows` is given); zeros
    /// for a step-0 checkpoint without Adam state.
    public func stateBefore(_ state: String, _ name: String, rows: Range<Int>? = nil) throws(ReferenceError) -> [Float] {
        guard let shape = parameters.shapes[name] else { throw .missingTensor(path: source.path, tensor: name) }
        return try readState(state, name, shape, rows: rows)
    }

    private func readState(_ state: String, _ name: String, _ shape: [Int], rows: Range<Int>?) throws(ReferenceError) -> [Float] {
        let key = TensorKey.optimizer(state, name)
        let count = rows.map { $0.count * shape.dropFirst().reduce(1, *) } ?? shape.reduce(1, *)
        guard let d = source.describe(key) else {
            if completedSteps == 0 && state != "master" { return [Float](repeating: 0, count: count) }
            throw .missingTensor(path: source.path, tensor: key.description)
        }
        guard d.shape == shape else { throw .shapeMismatch(path: source.path, tensor: key.description, expected: shape, found: d.shape) }
        if let rows { return try source.readFloats(key, rows: rows) }
        return try source.readFloats(key)
    }
}
