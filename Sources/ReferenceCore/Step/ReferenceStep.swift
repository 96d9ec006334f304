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
        /// How the step ran within its memory budget.
        public var plan: PipelinePlan? = nil
    }

    /// Runs the step: loads `before`, computes loss and gradients on `batchPath` within
    /// `memory` (`PipelinePlan`: in memory, or pipelined with the same result bit for bit), and
    /// writes `out` tensor by tensor (parameter in its stored dtype, exp_avg, exp_avg_sq, master
    /// when `before` has one), releasing each gradient once written; tensors larger than
    /// `streamElements` are updated and written in row blocks of about that many elements. Metadata is copied with
    /// `step` + 1 and `loss`/`grad_norm` recorded in `user_metadata`. `progress`, when given, is
    /// called with (phase, done, total) as the step advances (phases `load`, `forward+backward`,
    /// then `update+write` counting parameter tensors).
    public static func run(
        before: any TensorSource, batchPath: String, out: String, options: WriterOptions = WriterOptions(),
        memory: StepMemory = .unbounded, streamElements: Int = defaultStreamElements, progress: StepProgress? = nil
    ) throws(ReferenceError) -> Result {
        guard before.metadata.step < Int64.max else { throw .stepOverflow(path: before.path, step: before.metadata.step) }
        let batch = try BatchFile.read(path: batchPath)
        let t0 = Date()
        progress?("load", 0, 1)
        let state = try ReferenceState(source: before, loadParameters: false)
        let plan = try state.plan(batch: batch, memory: memory, streaming: max(1, streamElements))
        let names = state.parameters.names
        let pass: ReferenceState.PassSummary
        do {
            let writer = try CheckpointWriter(path: out, options: options)
            progress?("forward+backward", 0, 1)
            var written = 0
            pass = try state.forEachFinalGradient(batch: batch, batchPath: batchPath, plan: plan, scratchDirectory: memory.scratchDirectory) {
                (name, grad, clip) throws(ReferenceError) in
                progress?("update+write", written, names.count)
                try writeUpdate(writer, state: state, name: name, gradient: grad, clipCoefficient: clip, streamElements: max(1, streamElements))
                written += 1
            }
            var meta = before.metadata
            meta.step = before.metadata.step + 1
            meta.userJSON = StepRecord.userJSON(merging: meta.userJSON, loss: pass.loss, gradNorm: pass.globalNorm)
            writer.metadata = meta
            try writer.commit()
        } catch let e as StoreError {
            throw .store(e)
        } catch let e as ReferenceError {
            throw e
        } catch {
            throw .invalidArgument("\(out): \(PlainErrorMessage.describe(error))")
        }
        let total = Date().timeIntervalSince(t0)
        let load = Double(state.loadNanoseconds) / 1e9
        return Result(
            loss: pass.loss, gradNorm: pass.globalNorm, clipCoefficient: pass.clipCoefficient, step: before.metadata.step + 1,
            loadSeconds: load, computeSeconds: pass.computeSeconds, updateSeconds: max(0, total - load - pass.computeSeconds),
            optimizerSeconds: Double(state.optimizerNanoseconds) / 1e9, plan: plan)
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
