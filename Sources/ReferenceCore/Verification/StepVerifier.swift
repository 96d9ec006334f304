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

    /// About how many elements of a tensor are compared at a time (whole rows of dimension 0);
    /// the default 4 Mi elements (16 MiB per array) keeps the per-tensor working set small.
    public var streamElements: Int

    /// A verifier with the given limits.
    public init(tolerances: VerifyTolerances, streamElements: Int = 1 << 22) {
        self.tolerances = tolerances
        self.streamElements = max(1, streamElements)
    }

    /// Verifies `after` as the step from `before` on the batch at `batchPath`. `progress`, when
    /// given, is called with (phase, done, total): `load`, `forward+backward`, then `compare`
    /// counting parameter tensors.
    public func verify(
        before: any TensorSource, after: any TensorSource, batchPath: String, progress: StepProgress? = nil
    ) throws(ReferenceError) -> StepVerificationReport {
        guard before.metadata.step < Int64.max else { throw .stepOverflow(path: before.path, step: before.metadata.step) }
        let batch = try BatchFile.read(path: batchPath)
        progress?("load", 0, 1)
        let state = try ReferenceState(source: before)
        progress?("forward+backward", 0, 1)
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
        let names = state.parameters.names
        for (i, name) in names.enumerated() {
            progress?("compare", i, names.count)
            guard let grad = g.gradients[name] else { continue }
            verdicts.append(try compare(name, gradient: grad, clipCoefficient: g.clipCoefficient, state: state, after: after))
            g.gradients.release(name)
            state.parameters.release(name)
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

    /// Compares one parameter of `after` with its reference update, streaming the tensor in
    /// row blocks of about `streamElements` elements: per block the reference state and update
    /// are recomputed and the sums and worst elements accumulated, so only a few blocks are in
    /// memory besides the parameters and gradients.
    func compare(
        _ name: String, gradient: ScalarBuffer<Float>, clipCoefficient: Double, state: ReferenceState, after: any TensorSource
    ) throws(ReferenceError) -> TensorVerdict {
        func structural(_ what: String) -> TensorVerdict {
            TensorVerdict(
                name: name, passed: false, severity: .infinity,
                checks: [Self.check(what, .nan, limit: 0, passed: false, severity: .infinity)], worstElement: nil)
        }
        guard let shape = state.parameters.shapes[name] else { throw .missingTensor(path: state.source.path, tensor: name) }
        let paramKey = TensorKey.model(name)
        guard let pd = after.describe(paramKey) else { return structural("missing parameter") }
        guard pd.shape == shape else { return structural("shape \(pd.shape) differs from \(shape)") }
        let hasMaster = state.source.describe(.optimizer("master", name)) != nil
        var keysB = [TensorKey.optimizer("exp_avg", name), .optimizer("exp_avg_sq", name)]
        if hasMaster { keysB.append(.optimizer("master", name)) }
        for key in keysB {
            guard let d = after.describe(key), d.shape == shape else { return structural("missing or misshapen \(key)") }
        }
        // A tensor whose exact gradient is zero gets gradients of pure rounding noise on any
        // machine, which Adam normalises to lr-sized steps of random sign: only finiteness and
        // the per-element bound of a valid step are checked for it.
        let noiseOnly = Self.hasZeroExactGradient(name)
        let storage = hasMaster ? DType.float32 : pd.dtype
        let lr = state.optimizer.config.lr
        let unit = lr > 0 ? lr * state.optimizer.elementBound(completedSteps: state.completedSteps) : 1e-30

        var acc = TensorAccumulator()
        let rowsTotal = shape.first ?? 1
        let rowElements = max(1, shape.dropFirst().reduce(1, *))
        let rowsPerBlock = max(1, streamElements / rowElements)
        var row = 0
        while row < rowsTotal {
            let rows = row..<min(rowsTotal, row + rowsPerBlock)
            let offset = row * rowElements
            let u = try state.referenceUpdate(name: name, gradient: gradient, clipCoefficient: clipCoefficient, rows: rows)
            let paramB = try after.readFloats(paramKey, rows: rows)
            for (i, (stateName, ref)) in [("exp_avg", u.expAvg), ("exp_avg_sq", u.expAvgSq)].enumerated() {
                let sB = try after.readFloats(.optimizer(stateName, name), rows: rows)
                if noiseOnly {
                    acc.stateBad[i] = acc.stateBad[i] || sB.contains { !$0.isFinite } || (i == 1 && sB.contains { $0 < 0 })
                } else {
                    let sA = try state.stateBefore(stateName, name, rows: rows)
                    acc.stateSums[i] += Self.stateSums(b: sB, ref: ref, a: sA)
                }
            }
            let thetaB: [Float]
            if hasMaster {
                thetaB = try after.readFloats(.optimizer("master", name), rows: rows)
                acc.rounding.merge(Self.roundingWorst(param: paramB, master: thetaB, dtype: pd.dtype), offset: offset)
            } else {
                thetaB = paramB
            }
            let thetaRef = hasMaster ? u.theta : u.parameter
            let (sums, worst) = updateSums(
                a: u.thetaBefore, b: thetaB, ref: thetaRef, storage: storage, decayed: u.decayed, optimizer: state.optimizer,
                unit: unit)
            acc.updateSums += sums
            if worst.value > acc.worst.value || acc.worst.index < 0 {
                acc.worst = (worst.value, worst.index + offset, thetaB[worst.index], thetaRef[worst.index], u.thetaBefore[worst.index])
            }
            acc.count += u.thetaBefore.count
            row = rows.upperBound
        }

        var checks: [CheckResult] = []
        for (i, stateName) in ["exp_avg", "exp_avg_sq"].enumerated() {
            if noiseOnly {
                let bad = acc.stateBad[i]
                checks.append(Self.check("\(stateName).finite", bad ? 1 : 0, limit: 0, passed: !bad, severity: bad ? .infinity : 0))
            } else {
                checks += stateChecks(stateName, acc.stateSums[i])
            }
        }
        if hasMaster {
            checks.append(Self.limited("param.rounding_ulps", acc.rounding.value, max(tolerances.roundingULPs, 1)))
        }
        let elementLimit = noiseOnly ? max(tolerances.elementBound, 2) : tolerances.elementBound
        var update = updateChecks(acc.updateSums, count: acc.count, worst: acc.worst.value, elementLimit: elementLimit)
        if noiseOnly { update = update.filter { $0.check == "update.element_bound" } }
        checks += update
        let passed = checks.allSatisfy(\.passed)
        let w = acc.worst
        let detail = passed ? nil : "index \(w.index): after \(w.b), reference \(w.ref), before \(w.a)"
        return TensorVerdict(name: name, passed: passed, severity: checks.map(\.severity).max() ?? 0, checks: checks, worstElement: detail)
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
