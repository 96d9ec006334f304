import CheckpointStore
import Foundation

/// `ckpt step`: one reference training step from a checkpoint and a batch to a new checkpoint
/// at step t+1, streaming optimizer state per tensor.
public enum ReferenceStep {
    /// What the step computed.
    public struct Result: Sendable {
        /// Mean loss of the batch at θ before the step.
        public var loss: Double
        /// Global gradient norm before clipping.
        public var gradNorm: Double
        /// Clipping coefficient applied (1 = none).
        public var clipCoefficient: Double
        /// Steps completed by the written checkpoint.
        public var step: Int64
        /// Wall-clock seconds: reading parameters, forward + backward (with the gradient norm),
        /// and the optimizer update with writing the new checkpoint.
        public var loadSeconds = 0.0, computeSeconds = 0.0, updateSeconds = 0.0
        /// Of `updateSeconds`, the time in the AdamW passes themselves.
        public var optimizerSeconds = 0.0
    }

    /// Runs the step: loads `before`, computes loss and gradients on `batchPath`, and writes
    /// `out` tensor by tensor (parameter in its stored dtype, exp_avg, exp_avg_sq, master when
    /// `before` has one), releasing each gradient once written. Metadata is copied with
    /// `step` + 1 and `loss`/`grad_norm` recorded in `user_metadata`. `progress`, when given, is
    /// called with (phase, done, total) as the step advances (phases `load`, `forward+backward`,
    /// then `update+write` counting parameter tensors).
    public static func run(
        before: any TensorSource, batchPath: String, out: String, options: WriterOptions = WriterOptions(),
        progress: StepProgress? = nil
    ) throws(ReferenceError) -> Result {
        guard before.metadata.step < Int64.max else { throw .stepOverflow(path: before.path, step: before.metadata.step) }
        let batch = try BatchFile.read(path: batchPath)
        let t0 = Date()
        progress?("load", 0, 1)
        let state = try ReferenceState(source: before)
        let t1 = Date()
        progress?("forward+backward", 0, 1)
        let g = try state.gradients(batch: batch, batchPath: batchPath)
        let t2 = Date()
        let names = state.parameters.names
        progress?("update+write", 0, names.count)
        do {
            let writer = try CheckpointWriter(path: out, options: options)
            var meta = before.metadata
            meta.step = before.metadata.step + 1
            meta.userJSON = StepRecord.userJSON(merging: meta.userJSON, loss: g.loss, gradNorm: g.globalNorm)
            writer.metadata = meta
            for (i, name) in names.enumerated() {
                progress?("update+write", i, names.count)
                guard let grad = g.gradients[name] else { throw ReferenceError.missingTensor(path: before.path, tensor: name) }
                let u = try state.referenceUpdate(name: name, gradient: grad, clipCoefficient: g.clipCoefficient, keepBefore: false)
                g.gradients.release(name)
                state.parameters.release(name)
                try writeParameter(writer, u)
                try writer.write(.optimizer("exp_avg", name), shape: u.shape, floats: u.expAvg)
                try writer.write(.optimizer("exp_avg_sq", name), shape: u.shape, floats: u.expAvgSq)
                if u.hasMaster { try writer.write(.optimizer("master", name), shape: u.shape, floats: u.theta) }
            }
            try writer.commit()
        } catch let e as StoreError {
            throw .store(e)
        } catch let e as ReferenceError {
            throw e
        } catch {
            throw .invalidArgument("\(out): \(PlainErrorMessage.describe(error))")
        }
        return Result(
            loss: g.loss, gradNorm: g.globalNorm, clipCoefficient: g.clipCoefficient, step: before.metadata.step + 1,
            loadSeconds: t1.timeIntervalSince(t0), computeSeconds: t2.timeIntervalSince(t1), updateSeconds: Date().timeIntervalSince(t2),
            optimizerSeconds: Double(state.optimizerNanoseconds) / 1e9)
    }

    static func writeParameter(_ writer: CheckpointWriter, _ u: TensorUpdate) throws(StoreError) {
        let key = TensorKey.model(u.name)
        switch u.parameterDType {
        case .bfloat16:
            let bits = u.theta.map { HalfPrecision.bf16Bits(from: $0) }
            try bits.withUnsafeBytesTyped { (b) throws(StoreError) in try writer.write(key, dtype: .bfloat16, shape: u.shape, bytes: b) }
        case .float16:
            let bits = u.theta.map { Float16($0).bitPattern }
            try bits.withUnsafeBytesTyped { (b) throws(StoreError) in try writer.write(key, dtype: .float16, shape: u.shape, bytes: b) }
        case .float64:
            let d = u.theta.map { Double($0) }
            try d.withUnsafeBytesTyped { (b) throws(StoreError) in try writer.write(key, dtype: .float64, shape: u.shape, bytes: b) }
        default:
            try writer.write(key, shape: u.shape, floats: u.theta)
        }
    }
}

extension Array {
    /// `withUnsafeBytes` keeping the closure's typed error.
    func withUnsafeBytesTyped<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        var failure: E?
        withUnsafeBytes { b in
            do throws(E) { try body(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
