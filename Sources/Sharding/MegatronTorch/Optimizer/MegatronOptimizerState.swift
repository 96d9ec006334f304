import CheckpointStore
import Containers

/// The optimizer state of one Megatron rank mapped back to parameter names: for each parameter
/// its `exp_avg`, `exp_avg_sq` and (bfloat16/float16 parameters) fp32 `master`, as tensors of
/// the rank's archives.
struct MegatronOptimizerState {
    /// Which archive a tensor is in.
    enum Archive: Int { case model = 0, distributed = 1 }

    /// name → state (`exp_avg`, `exp_avg_sq`, `master`) → (archive, tensor).
    var tensors: [String: [String: (Archive, TorchTensorRef)]] = [:]
    /// The per-parameter `step` of the first state entry (a 0-d tensor or a number), if any.
    var step: PickleValue?
    /// The saved `param_groups`.
    var paramGroups: [PickleValue] = []
    /// `grad_scaler`, if saved.
    var gradScaler: PickleValue?
    /// `float16` (Float16OptimizerWithFloat16Params), `fp32` (FP32Optimizer) or `distributed`.
    var form: String = "none"

    /// Reads the non-distributed forms of `model_optim_rng.pt["optimizer"]`, or takes the
    /// groups of the distributed form (whose tensors are in `distrib_optim.pt`).
    static func fromModelFile(_ optimizer: PickleValue, params: [MegatronParamGroups.Param], path: String) throws(ContainerError) -> MegatronOptimizerState {
        if optimizer.elements != nil {
            throw .unsupported(path: path, detail: "optimizer is a list (a ChainedOptimizer, e.g. dense + expert): not supported")
        }
        var s = MegatronOptimizerState()
        let torchState: PickleValue
        if let inner = optimizer["optimizer"] {
            torchState = inner
            s.gradScaler = optimizer["grad_scaler"]
            if inner["state"] == nil {
                guard optimizer["fp32_from_fp16_params"] == nil else {
                    throw .malformed(path: path, detail: "optimizer.optimizer has no state")
                }
                s.form = "distributed"
                s.paramGroups = inner["param_groups"]?.elements ?? []
                return s
            }
            s.form = optimizer["fp32_from_fp16_params"] == nil ? "fp32" : "float16"
        } else if optimizer["state"] != nil {
            torchState = optimizer
            s.form = "fp32"
        } else {
            throw .malformed(path: path, detail: "optimizer has neither optimizer nor state")
        }
        guard let groups = torchState["param_groups"]?.elements, case .dict(let stateEntries)? = torchState["state"] else {
            throw .malformed(path: path, detail: "optimizer state dict lacks state or param_groups")
        }
        s.paramGroups = groups
        let predicted = MegatronParamGroups(params: params)
        let assigned = try assign(groups, predicted: predicted, path: path)
        var byIndex: [Int64: PickleValue] = [:]
        for e in stateEntries {
            guard case .int(let i) = e.key else {
                if e.key == .string("common_step") { continue }
                throw .malformed(path: path, detail: "optimizer.state has a non-integer key")
            }
            byIndex[i] = e.value
        }
        for group in assigned {
            for (index, p) in group {
                guard let entry = byIndex[Int64(index)] else {
                    throw .badTensor(path: path, tensor: p.name, detail: "optimizer.state has no entry \(index) for this parameter")
                }
                if s.step == nil { s.step = entry["step"] }
                for key in ["exp_avg", "exp_avg_sq"] {
                    guard case .tensor(let t)? = entry[key] else {
                        throw .badTensor(path: path, tensor: p.name, detail: "optimizer.state[\(index)] has no tensor \(key)")
                    }
                    try check(t, p, "optimizer.state[\(index)].\(key)", path: path)
                    s.tensors[p.name, default: [:]][key] = (.model, t)
                }
            }
        }
        if s.form == "float16" {
            guard let lists = optimizer["fp32_from_fp16_params"]?.elements, lists.count == assigned.count else {
                throw .malformed(path: path, detail: "fp32_from_fp16_params does not have one list per param group")
            }
            for (g, list) in lists.enumerated() {
                let masters = assigned[g].map(\.1).filter { $0.dtype == .bfloat16 || $0.dtype == .float16 }
                guard let items = list.elements, items.count == masters.count else {
                    throw .malformed(
                        path: path,
                        detail: "fp32_from_fp16_params[\(g)] holds \(list.elements?.count ?? 0) tensors for \(masters.count) half-precision parameters")
                }
                for (k, (item, p)) in zip(items, masters).enumerated() {
                    guard case .tensor(let t) = item else {
                        throw .badTensor(path: path, tensor: p.name, detail: "fp32_from_fp16_params[\(g)][\(k)] is not a tensor")
                    }
                    try check(t, p, "fp32_from_fp16_params[\(g)][\(k)]", path: path)
                    s.tensors[p.name, default: [:]]["master"] = (.model, t)
                }
            }
        }
        return s
    }

    /// One saved group's (state index, parameter) pairs.
    typealias Indexed = [(Int, MegatronParamGroups.Param)]

    /// Matches the saved groups to megatron-core's grouping by `wd_mult` and size, returning
    /// (index, parameter) pairs per saved group.
    private static func assign(_ groups: [PickleValue], predicted: MegatronParamGroups, path: String) throws(ContainerError) -> [Indexed] {
        var used = Set<Int>()
        var out: [Indexed] = []
        for (g, group) in groups.enumerated() {
            guard let ids = group["params"]?.elements else {
                throw .malformed(path: path, detail: "optimizer param_groups[\(g)] has no params list")
            }
            let mult = group["wd_mult"]?.doubleValue ?? 1
            guard let k = predicted.weightDecayMultipliers.firstIndex(of: mult), !used.contains(k) else {
                throw .unsupported(
                    path: path,
                    detail:
                        "optimizer param_groups[\(g)] (wd_mult \(mult)) does not match megatron-core's default grouping (custom parameter-group overrides are not supported)"
                )
            }
            used.insert(k)
            let members = predicted.groups[k]
            guard ids.count == members.count else {
                throw .unsupported(
                    path: path,
                    detail:
                        "optimizer param_groups[\(g)] (wd_mult \(mult)) holds \(ids.count) parameters, megatron-core's grouping of this rank's model gives \(members.count)"
                )
            }
            var pairs: [(Int, MegatronParamGroups.Param)] = []
            for (id, p) in zip(ids, members) {
                guard case .int(let i) = id, i >= 0, i < 1 << 31 else {
                    throw .malformed(path: path, detail: "optimizer param_groups[\(g)] has a non-integer parameter index")
                }
                pairs.append((Int(i), p))
            }
            out.append(pairs)
        }
        let nonEmpty = predicted.groups.indices.filter { !predicted.groups[$0].isEmpty }
        for k in nonEmpty where !used.contains(k) {
            throw .malformed(path: path, detail: "optimizer has no param group for the parameters with wd_mult \(predicted.weightDecayMultipliers[k])")
        }
        return out
    }

    /// An optimizer tensor must be fp32 with its parameter's shape.
    static func check(_ t: TorchTensorRef, _ p: MegatronParamGroups.Param, _ what: String, path: String) throws(ContainerError) {
        guard t.shape == p.shape else {
            throw .badTensor(path: path, tensor: p.name, detail: "\(what) has shape \(t.shape), the parameter \(p.shape)")
        }
        guard t.dtypeName == "float32" else {
            throw .badTensor(path: path, tensor: p.name, detail: "\(what) is \(t.dtypeName), expected float32")
        }
    }
}
