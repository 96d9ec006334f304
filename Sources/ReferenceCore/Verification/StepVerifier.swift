import CheckpointStore
import Foundation

/// Recomputes a training step on the CPU and certifies (or rejects) the after-checkpoint an
/// accelerator produced: loss, Adam state and the update of every parameter against the
/// reference, under a tolerance profile (`formats/verify-step.md`).
///
/// Memory: within a `StepMemory` budget — every parameter and gradient in RAM when they fit,
/// else a pipeline of stages (`PipelinePlan`); optimizer state and the after-checkpoint are
/// read one tensor at a time (in row blocks of `streamElements`) and each gradient is released
/// once its tensor is checked.
public struct StepVerifier: Sendable {
    /// The limits applied.
    public var tolerances: VerifyTolerances

    /// About how many elements of a tensor are compared at a time (whole rows of dimension 0);
    /// the default 4 Mi elements (16 MiB per array) keeps the per-tensor working set small.
    public var streamElements: Int

    /// A verifier with the given limits.
    public init(tolerances: VerifyTolerances, streamElements: Int = 1 << 22) {
        self.tolerances = tolerances
        self.streamElements = max(1, streamElements)
    }

    /// Verifies `after` as the step from `before` on the batch at `batchPath`, within `memory`
    /// (`PipelinePlan`: in memory, or pipelined with the same figures bit for bit). `progress`,
    /// when given, is called with (phase, done, total): `load`, `forward+backward`, then
    /// `compare` counting parameter tensors (in a pipelined pass, compared as their gradients
    /// become final).
    public func verify(
        before: any TensorSource, after: any TensorSource, batchPath: String, memory: StepMemory = .unbounded,
        progress: StepProgress? = nil
    ) throws(ReferenceError) -> StepVerificationReport {
        guard before.metadata.step < Int64.max else { throw .stepOverflow(path: before.path, step: before.metadata.step) }
        let batch = try BatchFile.read(path: batchPath)
        progress?("load", 0, 1)
        let state = try ReferenceState(source: before, loadParameters: false)
        let plan = try state.plan(batch: batch, memory: memory, streaming: streamElements)
        progress?("forward+backward", 0, 1)
        var verdicts: [TensorVerdict] = []
        let total = state.parameters.names.count
        let pass = try state.forEachFinalGradient(batch: batch, batchPath: batchPath, plan: plan, scratchDirectory: memory.scratchDirectory) {
            (name, grad, clip) throws(ReferenceError) in
            progress?("compare", verdicts.count, total)
            verdicts.append(try compare(name, gradient: grad, clipCoefficient: clip, state: state, after: after))
        }
        var global: [CheckResult] = []
        global.append(
            Self.check(
                "step", Double(after.metadata.step), limit: Double(before.metadata.step + 1), passed: after.metadata.step == before.metadata.step + 1,
                severity: after.metadata.step == before.metadata.step + 1 ? 0 : .infinity))
        if let recorded = StepRecord.recordedLoss(after.metadata.userJSON) {
            let rel = abs(recorded - pass.loss) / max(abs(pass.loss), 1e-30)
            global.append(Self.limited("loss.relative_error", rel, tolerances.lossRelative))
        }
        // Ties keep canonical order, whichever order the pass finished the tensors in.
        let order = Dictionary(uniqueKeysWithValues: state.parameters.names.enumerated().map { ($1, $0) })
        verdicts.sort { a, b in
            if a.passed != b.passed { return !a.passed }
            if a.severity != b.severity { return a.severity > b.severity }
            return order[a.name, default: 0] < order[b.name, default: 0]
        }
        let passed = global.allSatisfy(\.passed) && verdicts.allSatisfy(\.passed)
        var report = StepVerificationReport(
            passed: passed, tolerances: tolerances, before: before.path, after: after.path, batch: batchPath,
            stepBefore: before.metadata.step, referenceLoss: pass.loss, gradNorm: pass.globalNorm, clipCoefficient: pass.clipCoefficient,
            global: global, tensors: verdicts)
        report.plan = plan
        return report
    }

    /// Sums for the state checks of one block: Σe², Σr², Σb·r, Σb², Σ(b−a)(r−a), Σ(r−a)².
    static func stateSums(b: [Float], ref: [Float], a: [Float]) -> SIMD8<Double> {
        b.withUnsafeBufferPointer { bp in
            ref.withUnsafeBufferPointer { rp in
                a.withUnsafeBufferPointer { ap in
                    let (x, y, z) = (
                        SharedPointer(UnsafeMutablePointer(mutating: bp.baseAddress!)),
                        SharedPointer(UnsafeMutablePointer(mutating: rp.baseAddress!)),
                        SharedPointer(UnsafeMutablePointer(mutating: ap.baseAddress!))
                    )
                    return Reductions.blockSums(b.count) { r in
                        var acc = SIMD8<Double>.zero
                        for i in r {
                            let vb = Double(x.p[i]), vr = Double(y.p[i]), va = Double(z.p[i])
                            let e = vb - vr, db = vb - va, dr = vr - va
                            acc += SIMD8(e * e, vr * vr, vb * vr, vb * vb, db * dr, dr * dr, 0, 0)
                        }
                        return acc
                    }
                }
            }
        }
    }

    /// relative L2, cosine and step scale of one optimizer state from its sums.
    func stateChecks(_ name: String, _ s: SIMD8<Double>) -> [CheckResult] {
        let rel = s[1] > 0 ? (s[0] / s[1]).squareRoot() : (s[0] == 0 ? 0 : .infinity)
        let cos = (s[1] > 0 && s[3] > 0) ? s[2] / (s[1] * s[3]).squareRoot() : (s[0] == 0 ? 1 : 0)
        var out = [
            Self.limited("\(name).relative_l2", rel, tolerances.stateRelativeL2),
            Self.atLeast("\(name).cosine", cos, tolerances.stateCosine),
        ]
        if s[5] > 0 {
            out.append(Self.limited("\(name).step_scale", abs(s[4] / s[5] - 1), tolerances.stateStepScale, reported: s[4] / s[5]))
        }
        return out
    }

    /// B's parameter must be its master rounded to the parameter dtype: the largest distance
    /// in ulps of that dtype and its index within the block.
    static func roundingWorst(param: [Float], master: [Float], dtype: DType) -> (value: Double, index: Int) {
        param.withUnsafeBufferPointer { pp in
            master.withUnsafeBufferPointer { mp in
                let (x, y) = (
                    SharedPointer(UnsafeMutablePointer(mutating: pp.baseAddress!)),
                    SharedPointer(UnsafeMutablePointer(mutating: mp.baseAddress!))
                )
                return Reductions.argmax(param.count) { i in
                    let r = Self.rounded(y.p[i], to: dtype)
                    return abs(Double(x.p[i]) - Double(r)) / Self.ulp(r, dtype)
                }
            }
        }
    }

    /// Sums for the update checks of one block (Σe², Σr², Σb·r, Σe·d, Σd², Σb² with b = Δθ_B,
    /// r = Δθ_ref, e = b − r, d = −lr·λ·θ_A) and its worst element in units of `unit` beyond
    /// the rounding allowance.
    func updateSums(
        a: [Float], b: [Float], ref: [Float], storage: DType, decayed: Bool, optimizer: AdamW, unit: Double
    ) -> (SIMD8<Double>, (value: Double, index: Int)) {
        let lr = optimizer.config.lr
        let lambda = decayed ? optimizer.config.weightDecay : 0
        let ulps = tolerances.roundingULPs
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                ref.withUnsafeBufferPointer { rp in
                    let (x, y, z) = (
                        SharedPointer(UnsafeMutablePointer(mutating: ap.baseAddress!)),
                        SharedPointer(UnsafeMutablePointer(mutating: bp.baseAddress!)),
                        SharedPointer(UnsafeMutablePointer(mutating: rp.baseAddress!))
                    )
                    let sums = Reductions.blockSums(a.count) { r in
                        var acc = SIMD8<Double>.zero
                        for i in r {
                            let th = Double(x.p[i])
                            let db = Double(y.p[i]) - th, dr = Double(z.p[i]) - th
                            let e = db - dr, d = -lr * lambda * th
                            acc += SIMD8(e * e, dr * dr, db * dr, e * d, d * d, db * db, 0, 0)
                        }
                        return acc
                    }
                    let worst = Reductions.argmax(a.count) { i in
                        let r = z.p[i]
                        let allowance = ulps * Self.ulp(r, storage)
                        return max(0, abs(Double(y.p[i]) - Double(r)) - allowance) / unit
                    }
                    return (sums, worst)
                }
            }
        }
    }

    /// Relative L2, scale, decay scale and the elementwise bound of Δθ from the tensor's sums.
    func updateChecks(_ sum: SIMD8<Double>, count: Int, worst: Double, elementLimit: Double) -> [CheckResult] {
        var out: [CheckResult] = []
        let rel = sum[1] > 0 ? (sum[0] / sum[1]).squareRoot() : (sum[0] == 0 ? 0 : .infinity)
        out.append(Self.limited("update.relative_l2", rel, tolerances.updateRelativeL2))
        if sum[1] > 0 {
            let scale = sum[2] / sum[1]
            out.append(Self.limited("update.scale", abs(scale - 1), tolerances.updateScale, reported: scale))
        }
        if sum[4] > 0 {
            let alpha = sum[3] / sum[4]
            let resid = max(0, sum[0] - sum[3] * sum[3] / sum[4])
            let se = (resid / Double(max(count, 1))).squareRoot() / sum[4].squareRoot()
            out.append(Self.limited("update.decay_scale", abs(alpha), max(tolerances.decayScale, 4 * se), reported: 1 + alpha))
        }
        out.append(Self.limited("update.element_bound", worst, elementLimit))
        return out
    }

    /// Whether the whole named parameter has an exactly zero gradient in a model with learned
    /// positions (GPT-2): the key bias of softmax attention (q·b_k is the same for every key of
    /// a row, and softmax ignores a constant shift). With rotary positions only part of it, or
    /// none, has; the general rule, which the verifier applies, is
    /// `ModelArchitecture.zeroGradientRanges`.
    public static func hasZeroExactGradient(_ name: String) -> Bool { name.hasSuffix(".attn.k.bias") }

    // MARK: helpers

    static func check(_ name: String, _ value: Double, limit: Double, passed: Bool, severity: Double) -> CheckResult {
        CheckResult(check: name, value: value, limit: limit, passed: passed, severity: severity)
    }

    /// Passes when `deviation ≤ limit` (NaN fails); `reported` is the value shown.
    static func limited(_ name: String, _ deviation: Double, _ limit: Double, reported: Double? = nil) -> CheckResult {
        let ok = deviation <= limit
        let sev = deviation.isNaN ? .infinity : (limit > 0 ? deviation / limit : (deviation == 0 ? 0 : .infinity))
        return CheckResult(check: name, value: reported ?? deviation, limit: limit, passed: ok, severity: sev)
    }

    /// Passes when `value ≥ limit` (for cosines).
    static func atLeast(_ name: String, _ value: Double, _ limit: Double) -> CheckResult {
        let ok = value >= limit
        let dev = 1 - value, allowed = 1 - limit
        let sev = dev.isNaN ? .infinity : (allowed > 0 ? max(0, dev) / allowed : (dev <= 0 ? 0 : .infinity))
        return CheckResult(check: name, value: value, limit: limit, passed: ok, severity: sev)
    }

    /// `x` rounded to `dtype` (bf16 nearest-even, fp16), as Float.
    static func rounded(_ x: Float, to dtype: DType) -> Float {
        switch dtype {
        case .bfloat16: return HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: x))
        case .float16: return Float(Float16(x))
        default: return x
        }
    }

    /// The spacing of `dtype` values at |x| (at least the smallest normal's spacing).
    static func ulp(_ x: Float, _ dtype: DType) -> Double {
        let f32 = Double(max(abs(x), Float.leastNormalMagnitude).ulp)
        switch dtype {
        case .bfloat16: return f32 * 65536
        case .float16: return Double(max(abs(Float16(x)), Float16.leastNormalMagnitude).ulp)
        case .float64: return f32
        default: return f32
        }
    }
}
