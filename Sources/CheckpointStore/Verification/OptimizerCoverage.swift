/// Finds optimizer state that is missing for some parameters while the checkpoint holds it for
/// others (a partial or damaged save): a parameter that one state covers must be covered by
/// every state (`exp_avg` and `exp_avg_sq` always come as a pair), every parameter must have
/// state once any has, and once any parameter has a `master` copy every 16-bit parameter needs
/// one.
struct OptimizerCoverage {
    /// One state missing for some parameters.
    struct Gap: Equatable {
        /// The optimizer state (`exp_avg`, `master`, ...).
        var state: String
        /// The parameters that lack it, in natural order.
        var parameters: [String]
        /// What makes them expected to have it.
        var reason: String
    }

    /// The Adam moments, which an AdamW checkpoint holds together.
    static let moments = ["exp_avg", "exp_avg_sq"]

    /// The gaps in `tensors`' optimizer state. `parameters` are the model tensors that are
    /// trainable parameters (all model tensors when nil).
    static func gaps(_ tensors: [TensorInfo], parameters: Set<String>? = nil) -> [Gap] {
        var byState: [String: Set<String>] = [:]
        var model: [String: DType] = [:]
        for t in tensors {
            if let s = t.key.optimizerState { byState[s, default: []].insert(t.key.name) } else { model[t.key.name] = t.dtype }
        }
        var states = Set(byState.keys.filter { $0 != "master" })
        if !states.isDisjoint(with: moments) { states.formUnion(moments) }
        let covered = states.reduce(into: Set<String>()) { $0.formUnion(byState[$1] ?? []) }
        var gaps: [Gap] = []
        for s in states.sorted() {
            let lacking = covered.subtracting(byState[s] ?? [])
            if !lacking.isEmpty {
                gaps.append(Gap(state: s, parameters: lacking.sorted(by: naturalLess), reason: "other optimizer states cover"))
            }
        }
        if !covered.isEmpty {
            let trainable = parameters.map { $0.intersection(model.keys) } ?? Set(model.keys)
            let stateless = trainable.subtracting(covered)
            if !stateless.isEmpty {
                gaps.append(
                    Gap(
                        state: states.sorted().joined(separator: "+"), parameters: stateless.sorted(by: naturalLess),
                        reason: "\(covered.count) other parameter(s) have"))
            }
        }
        if let master = byState["master"], !master.isEmpty {
            let sixteen = Set(model.filter { $0.value == .bfloat16 || $0.value == .float16 }.keys)
            let candidates = covered.isEmpty ? sixteen : sixteen.intersection(covered)
            let lacking = candidates.subtracting(master)
            if !lacking.isEmpty {
                gaps.append(Gap(state: "master", parameters: lacking.sorted(by: naturalLess), reason: "other 16-bit parameters have"))
            }
        }
        return gaps
    }
}
