import CheckpointStore
import Foundation

/// Recomputes a training step on the CPU and certifies (or rejects) the after-checkpoint an
/// accelerator produced: loss, Adam state and the update of every parameter against the
/// reference, under a tolerance profile (`formats/verify-step.md`).
///
/// Memory: parameters and gradients in RAM; optimizer state and the after-checkpoint are read
/// one tensor at a time and each gradient is released once its tensor is checked.
public struct StepVerifier: Sendable {
    /// The limits applied.
    public var tolerances: VerifyTolerances

    /// A verifier with the given limits.
    public init(tolerances: VerifyTolerances) { self.tolerances = tolerances }

    /// Verifies `after` as the step from `before` on the batch at `batchPath`.
    public func verify(before: any TensorSource, after: any TensorSource, batchPath: String) throws(ReferenceError) -> StepVerificationReport {
        let batch = try BatchFile.read(path: batchPath)
        let state = try ReferenceState(source: before)
        let g = try state.gradients(batch: batch, batchPath: batchPath)
        var global: [CheckResult] = []
        global.append(
            Self.check(
                "step", Double(after.metadata.step), limit: Double(before.metadata.step + 1), passed: after.metadata.step == before.metadata.step + 1,
                severity: after.metadata.step == before.metadata.step + 1 ? 0 : .infinity))
        if let recorded = StepRecord.recordedLoss(after.metadata.userJSON) {
            let rel = abs(recorded - g.loss) / max(abs(g.loss), 1e-30)
            global.append(Self.limited("loss.relative_error", rel, tolerances.lossRelative))
        }
        var verdicts: [TensorVerdict] = []
        for name in state.parameters.names {
            guard let grad = g.gradients[name] else { continue }
            let u = try state.referenceUpdate(name: name, gradient: grad, clipCoefficient: g.clipCoefficient)
            g.gradients.release(name)
            verdicts.append(try compare(u, state: state, after: after))
        }
        verdicts.sort { a, b in
            if a.passed != b.passed { return !a.passed }
            return a.severity > b.severity
        }
        let passed = global.allSatisfy(\.passed) && verdicts.allSatisfy(\.passed)
        return StepVerificationReport(
            passed: passed, tolerances: tolerances, before: before.path, after: after.path, batch: batchPath,
            stepBefore: before.metadata.step, referenceLoss: g.loss, gradNorm: g.globalNorm, clipCoefficient: g.clipCoefficient,
            global: global, tensors: verdicts)
    }

    /// Compares one parameter of `after` with its reference update.
    func compare(_ u: TensorUpdate, state: ReferenceState, after: any TensorSource) throws(ReferenceError) -> TensorVerdict {
        var checks: [CheckResult] = []
        func structural(_ what: String) -> TensorVerdict {
            TensorVerdict(
                name: u.name, passed: false, severity: .infinity,
                checks: [Self.check(what, .nan, limit: 0, passed: false, severity: .infinity)], worstElement: nil)
        }
        let paramKey = TensorKey.model(u.name)
        guard let pd = after.describe(paramKey) else { return structural("missing parameter") }
        guard pd.shape == u.shape else { return structural("shape \(pd.shape) differs from \(u.shape)") }
        let paramB = try after.readFloats(paramKey)

        // Adam state. A tensor whose exact gradient is zero gets gradients of pure rounding
        // noise on any machine, which Adam normalises to lr-sized steps of random sign: only
        // finiteness and the per-element bound of a valid step are checked for it.
        let noiseOnly = Self.hasZeroExactGradient(u.name)
        for (state_, ref) in [("exp_avg", u.expAvg), ("exp_avg_sq", u.expAvgSq)] {
            let key = TensorKey.optimizer(state_, u.name)
            guard let d = after.describe(key), d.shape == u.shape else { return structural("missing or misshapen \(key)") }
            let sB = try after.readFloats(key)
            let sA: [Float]
            if state.source.describe(key) != nil { sA = try state.source.readFloats(key) } else { sA = [Float](repeating: 0, count: ref.count) }
            if noiseOnly {
                let bad = sB.contains { !$0.isFinite } || (state_ == "exp_avg_sq" && sB.contains { $0 < 0 })
                checks.append(Self.check("\(state_).finite", bad ? 1 : 0, limit: 0, passed: !bad, severity: bad ? .infinity : 0))
            } else {
                checks += stateChecks(state_, b: sB, ref: ref, a: sA)
            }
        }

        // Update: on the master when the step keeps one, else on the parameter.
        let thetaB: [Float]
        let storage: DType
        if u.hasMaster {
            let key = TensorKey.optimizer("master", u.name)
            guard let d = after.describe(key), d.shape == u.shape else { return structural("missing or misshapen \(key)") }
            thetaB = try after.readFloats(key)
            storage = .float32
            checks.append(roundingCheck(param: paramB, master: thetaB, dtype: pd.dtype))
        } else {
            thetaB = paramB
            storage = pd.dtype
        }
        let thetaRef = u.hasMaster ? u.theta : u.parameter
        var (updateChecks, worst) = updateChecks(
            a: u.thetaBefore, b: thetaB, ref: thetaRef, storage: storage, decayed: u.decayed, completedSteps: state.completedSteps,
            optimizer: state.optimizer, elementLimit: noiseOnly ? max(tolerances.elementBound, 2) : tolerances.elementBound)
        if noiseOnly { updateChecks = updateChecks.filter { $0.check == "update.element_bound" } }
        checks += updateChecks
        if checks.allSatisfy(\.passed) { worst = nil }
        let severity = checks.map(\.severity).max() ?? 0
        return TensorVerdict(name: u.name, passed: checks.allSatisfy(\.passed), severity: severity, checks: checks, worstElement: worst)
    }

    /// relative L2, cosine and step scale of one optimizer state.
    func stateChecks(_ name: String, b: [Float], ref: [Float], a: [Float]) -> [CheckResult] {
        let s = b.withUnsafeBufferPointer { bp in
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

    /// B's parameter must be its master rounded to the parameter dtype (within rounding ulps).
    func roundingCheck(param: [Float], master: [Float], dtype: DType) -> CheckResult {
        let (p, m) = (param, master)
        let worst = p.withUnsafeBufferPointer { pp in
            m.withUnsafeBufferPointer { mp in
                let (x, y) = (SharedPointer(UnsafeMutablePointer(mutating: pp.baseAddress!)), SharedPointer(UnsafeMutablePointer(mutating: mp.baseAddress!)))
                return Reductions.argmax(p.count) { i in
                    let r = Self.rounded(y.p[i], to: dtype)
                    let ulp = Self.ulp(r, dtype)
                    return abs(Double(x.p[i]) - Double(r)) / ulp
                }
            }
        }
        return Self.limited("param.rounding_ulps", worst.value, max(tolerances.roundingULPs, 1))
    }

    /// Relative L2, scale, decay scale and the elementwise bound of Δθ.
    func updateChecks(
        a: [Float], b: [Float], ref: [Float], storage: DType, decayed: Bool, completedSteps: Int64,
        optimizer: AdamW, elementLimit: Double
    ) -> ([CheckResult], String?) {
        let lr = optimizer.config.lr
        let lambda = decayed ? optimizer.config.weightDecay : 0
        let unit = lr > 0 ? lr * optimizer.elementBound(completedSteps: completedSteps) : 1e-30
        let ulps = tolerances.roundingULPs
        let s = a.withUnsafeBufferPointer { ap in
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
        let (sum, worst) = s
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
            let se = (resid / Double(max(a.count, 1))).squareRoot() / sum[4].squareRoot()
            let dev = abs(alpha)
            let limit = max(tolerances.decayScale, 4 * se)
            out.append(Self.limited("update.decay_scale", dev, limit, reported: 1 + alpha))
        }
        out.append(Self.limited("update.element_bound", worst.value, elementLimit))
        let detail = "index \(worst.index): after \(b[worst.index]), reference \(ref[worst.index]), before \(a[worst.index])"
        return (out, out.last!.passed ? nil : detail)
    }

    /// Whether the exact gradient of the named parameter is identically zero: the key bias of
    /// softmax attention (q·b_k is the same for every key of a row, and softmax ignores a
    /// constant shift).
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
