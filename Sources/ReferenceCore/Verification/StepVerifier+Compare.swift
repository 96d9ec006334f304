import CheckpointStore

extension StepVerifier {
    /// Compares one parameter of `after` with its reference update, streaming the tensor in
    /// row blocks of about `streamElements` elements: per block the reference state and update
    /// are recomputed and the sums and worst elements accumulated, so only a few blocks are in
    /// memory besides the parameters and gradients.
    ///
    /// Elements whose exact gradient is zero (`ModelArchitecture.zeroGradientRanges`: the key
    /// bias, wholly with learned positions, its pass-through dimensions with partial rotary)
    /// get gradients of pure rounding noise on any machine, which Adam normalises to lr-sized
    /// steps of random sign: for them only finiteness and the per-element bound of a valid step
    /// are checked, the rest of the tensor gets every check.
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
        let lr = state.optimizer.config.lr
        let block = Block(
            name: name, paramKey: paramKey, dtype: pd.dtype, hasMaster: hasMaster, storage: hasMaster ? .float32 : pd.dtype,
            unit: lr > 0 ? lr * state.optimizer.elementBound(completedSteps: state.completedSteps) : 1e-30,
            rowElements: max(1, shape.dropFirst().reduce(1, *)), gradient: gradient, clipCoefficient: clipCoefficient)

        // [gradient-carrying elements, zero-gradient elements].
        var acc = [TensorAccumulator(), TensorAccumulator()]
        let rowsPerBlock = max(1, streamElements / block.rowElements)
        let zero = state.model.architecture.zeroGradientRanges(name)
        for (range, noise) in Self.segments(rows: shape.first ?? 1, rowElements: block.rowElements, zero: zero) {
            var row = range.lowerBound
            while row < range.upperBound {
                let rows = row..<min(range.upperBound, row + rowsPerBlock)
                try accumulate(&acc[noise ? 1 : 0], block, rows: rows, noise: noise, state: state, after: after)
                row = rows.upperBound
            }
        }

        let (carrying, noise) = (acc[0], acc[1])
        let partial = carrying.count > 0 && noise.count > 0
        var checks: [CheckResult] = []
        for (i, stateName) in ["exp_avg", "exp_avg_sq"].enumerated() {
            if carrying.count > 0 { checks += stateChecks(stateName, carrying.stateSums[i]) }
            if noise.count > 0 {
                let bad = noise.stateBad[i]
                checks.append(Self.check("\(stateName).finite", bad ? 1 : 0, limit: 0, passed: !bad, severity: bad ? .infinity : 0))
            }
        }
        if hasMaster {
            let rounding = max(carrying.rounding.value, noise.rounding.value)
            checks.append(Self.limited("param.rounding_ulps", rounding, max(tolerances.roundingULPs, 1)))
        }
        if carrying.count > 0 {
            checks += updateChecks(carrying.updateSums, count: carrying.count, worst: carrying.worst.value, elementLimit: tolerances.elementBound)
        }
        if noise.count > 0 {
            checks.append(
                Self.limited(partial ? "update.element_bound.zero_gradient" : "update.element_bound", noise.worst.value, max(tolerances.elementBound, 2)))
        }
        let passed = checks.allSatisfy(\.passed)
        let carryingFails = carrying.count > 0 && carrying.worst.value > tolerances.elementBound
        let w = carryingFails || noise.count == 0 ? carrying.worst : noise.worst
        let detail = passed ? nil : "index \(w.index): after \(w.b), reference \(w.ref), before \(w.a)"
        return TensorVerdict(name: name, passed: passed, severity: checks.map(\.severity).max() ?? 0, checks: checks, worstElement: detail)
    }

    /// What every block of one tensor's comparison shares.
    struct Block {
        let name: String
        let paramKey: TensorKey
        /// B's parameter dtype.
        let dtype: DType
        let hasMaster: Bool
        /// The storage type of the compared θ (fp32 with masters).
        let storage: DType
        /// lr·B(t), the unit of the element bound.
        let unit: Double
        /// Elements per row of dimension 0.
        let rowElements: Int
        let gradient: ScalarBuffer<Float>
        let clipCoefficient: Double
    }

    /// Adds rows `rows` of the tensor to `acc`: the reference update of those rows against B's,
    /// with the full state sums, or (`noise`) only finiteness of B's state.
    func accumulate(
        _ acc: inout TensorAccumulator, _ t: Block, rows: Range<Int>, noise: Bool, state: ReferenceState, after: any TensorSource
    ) throws(ReferenceError) {
        let offset = rows.lowerBound * t.rowElements
        let u = try state.referenceUpdate(name: t.name, gradient: t.gradient, clipCoefficient: t.clipCoefficient, rows: rows)
        let paramB = try after.readFloats(t.paramKey, rows: rows)
        for (i, (stateName, ref)) in [("exp_avg", u.expAvg), ("exp_avg_sq", u.expAvgSq)].enumerated() {
            let sB = try after.readFloats(.optimizer(stateName, t.name), rows: rows)
            if noise {
                acc.stateBad[i] = acc.stateBad[i] || sB.contains { !$0.isFinite } || (i == 1 && sB.contains { $0 < 0 })
            } else {
                let sA = try state.stateBefore(stateName, t.name, rows: rows)
                acc.stateSums[i] += Self.stateSums(b: sB, ref: ref, a: sA)
            }
        }
        let thetaB: [Float]
        if t.hasMaster {
            thetaB = try after.readFloats(.optimizer("master", t.name), rows: rows)
            acc.rounding.merge(Self.roundingWorst(param: paramB, master: thetaB, dtype: t.dtype), offset: offset)
        } else {
            thetaB = paramB
        }
        let thetaRef = t.hasMaster ? u.theta : u.parameter
        let (sums, worst) = updateSums(
            a: u.thetaBefore, b: thetaB, ref: thetaRef, storage: t.storage, decayed: u.decayed, optimizer: state.optimizer, unit: t.unit)
        acc.updateSums += sums
        if worst.value > acc.worst.value || acc.worst.index < 0 {
            acc.worst = (worst.value, worst.index + offset, thetaB[worst.index], thetaRef[worst.index], u.thetaBefore[worst.index])
        }
        acc.count += u.thetaBefore.count
    }

    /// Rows `0..<rows` cut into consecutive ranges, each marked whether its elements have an
    /// exactly zero gradient (`zero`, ranges of flat indices that cover whole rows).
    static func segments(rows: Int, rowElements: Int, zero: [Range<Int>]) -> [(rows: Range<Int>, noise: Bool)] {
        var out: [(rows: Range<Int>, noise: Bool)] = []
        var row = 0
        for z in zero.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            precondition(z.lowerBound % rowElements == 0 && z.upperBound % rowElements == 0, "zero-gradient range \(z) splits a row")
            let lo = min(rows, z.lowerBound / rowElements), hi = min(rows, z.upperBound / rowElements)
            if lo > row { out.append((row..<lo, false)) }
            if hi > max(lo, row) { out.append((max(lo, row)..<hi, true)) }
            row = max(row, hi)
        }
        if row < rows { out.append((row..<rows, false)) }
        return out
    }
}
