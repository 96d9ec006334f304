import Containers

/// How a `torch_dist` checkpoint stores its optimizer state, read from the common state's
/// `content_metadata` (megatron-core >= 0.13) and the keys present:
///
/// | form | keys |
/// |---|---|
/// | `nonDistributed` | `optimizer.state.{fp32_param,exp_avg,exp_avg_sq}.<model key>` (model space) |
/// | `fullyReshardable` | `optimizer.state.{param,exp_avg,exp_avg_sq}.<model key>` (model space) |
/// | `dpReshardable` | `optimizer.distributed.dp_group_idx_{g}.gbuf_idx_{b}.dtype_(P, G).bucket_idx_{k}.{param,exp_avg,exp_avg_sq}` (bucket space, per (TP, PP) group) |
///
/// `fully_sharded_model_space` (megatron-core 0.8-0.14's default, flattened boxes),
/// `dp_zero_gather_scatter`, `fsdp_dtensor` and chained optimizers (`chained_{i}.` prefixes)
/// are refused naming the type.
public enum MegatronDistOptimizerForm: String, Sendable, Hashable {
    /// No optimizer state saved.
    case none
    /// The non-distributed optimizer (`Float16OptimizerWithFloat16Params`, `FP32Optimizer`).
    case nonDistributed = "non-distributed"
    /// The distributed optimizer, `fully_reshardable`.
    case fullyReshardable = "fully_reshardable"
    /// The distributed optimizer, `dp_reshardable` (megatron-core >= 0.15's default).
    case dpReshardable = "dp_reshardable"

    /// The name of the model-space master-weight state (`fp32_param` or `param`), nil otherwise.
    var masterKey: String? {
        switch self {
        case .nonDistributed: return "fp32_param"
        case .fullyReshardable: return "param"
        case .none, .dpReshardable: return nil
        }
    }

    /// Detects the form. `sharding` is `content_metadata["distrib_optim_sharding_type"]` (nil
    /// when absent), `commonOptimizer` the common state's `optimizer` entry, `names` every
    /// tensor and byte item of the checkpoint.
    public static func detect(sharding: String?, commonOptimizer: PickleValue?, names: [String], path: String) throws(ContainerError)
        -> MegatronDistOptimizerForm
    {
        if let chained = names.first(where: { $0.hasPrefix("chained_") || $0.hasPrefix("optimizer.chained_") }) {
            throw .unsupported(path: path, detail: "\(chained.prefix(80)): chained optimizers (e.g. dense + expert) are not supported")
        }
        let modelSpace = names.contains { $0.hasPrefix("optimizer.state.") && $0 != "optimizer.state.common_step" }
        let bucketSpace = names.contains { $0.hasPrefix("optimizer.distributed.") }
        let saved = commonOptimizer.flatMap { $0["param_state_sharding_type"] }.flatMap { v -> String? in
            if case .string(let s) = v { return s }
            return nil
        }
        let type = sharding ?? saved
        if let s = sharding, let t = saved, s != t {
            throw .malformed(path: path, detail: "content_metadata names \(s) but the optimizer's param_state_sharding_type is \(t)")
        }
        switch type {
        case nil:
            if bucketSpace {
                throw .unsupported(
                    path: path,
                    detail:
                        "distributed-optimizer state without content_metadata (megatron-core < 0.13: fully_sharded_bucket_space or dp_zero_gather_scatter) is not supported; re-save it with megatron-core >= 0.15"
                )
            }
            if modelSpace {
                guard names.contains(where: { $0.hasPrefix("optimizer.state.exp_avg.") }) else {
                    throw .unsupported(path: path, detail: "optimizer.state.* without exp_avg: only Adam state is read")
                }
                return .nonDistributed
            }
            return .none
        case "fully_reshardable":
            guard modelSpace else { throw .malformed(path: path, detail: "fully_reshardable optimizer state but no optimizer.state.* tensors") }
            return .fullyReshardable
        case "dp_reshardable":
            guard bucketSpace else { throw .malformed(path: path, detail: "dp_reshardable optimizer state but no optimizer.distributed.* tensors") }
            return .dpReshardable
        case "fully_sharded_model_space":
            throw .unsupported(
                path: path,
                detail:
                    "distributed-optimizer state of type fully_sharded_model_space (megatron-core 0.8-0.14's default, flattened model-space boxes) is not supported; load it in megatron-core 0.15+ and re-save with --dist-ckpt-optim-fully-reshardable"
            )
        case let other?:
            throw .unsupported(
                path: path,
                detail: "distributed-optimizer state of type \(other.prefix(40)) is not supported (ckpt reads dp_reshardable and fully_reshardable)")
        }
    }
}
