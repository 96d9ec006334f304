import CheckpointStore
import Containers

extension MegatronArgs {
    /// The optimizer as ckpt's `optimizer` metadata.
    ///
    /// The hyperparameters of the next step come from the saved optimizer's default parameter
    /// group (the one with `wd_mult` 1; megatron's scheduler writes the current `lr` and
    /// `weight_decay` into every group after each step), falling back to `lr`, `weight_decay`,
    /// `adam_beta1/2`, `adam_eps` of the args; `grad_clip` is `clip_grad`; decay `matrices`
    /// (megatron-core puts 1-D tensors and biases in a group with `wd_mult` 0).
    ///
    /// The variant follows the optimizer class the groups were saved by: Transformer Engine's or
    /// Apex's `FusedAdam` (groups carry `bias_correction`, the GPU default) is `decoupled`;
    /// `torch.optim.AdamW` (groups carry `amsgrad`/`foreach`, megatron-core's fallback when
    /// neither is installed, e.g. on CPU) is `torch`. Without groups: `decoupled`.
    public func optimizerConfig(paramGroups: [PickleValue]? = nil) throws(ContainerError) -> OptimizerConfig {
        let r = reader
        let name = try r.string("optimizer") ?? "adam"
        guard name == "adam" else {
            throw .unsupported(path: path, detail: "args.optimizer = '\(name)': ckpt models AdamW only")
        }
        if r.value("decoupled_weight_decay") != nil, !(try r.flag("decoupled_weight_decay")) {
            throw .unsupported(path: path, detail: "args.decoupled_weight_decay = False: Adam with L2 regularisation is not supported")
        }
        let groups = paramGroups ?? []
        let main = groups.first { ($0["wd_mult"]?.doubleValue ?? 1) == 1 } ?? groups.first
        func number(_ key: String, _ arg: String, _ fallback: Double) throws(ContainerError) -> Double {
            if let v = main?[key]?.doubleValue { return v }
            return try r.double(arg) ?? fallback
        }
        var beta1 = try r.double("adam_beta1") ?? 0.9
        var beta2 = try r.double("adam_beta2") ?? 0.999
        if let b = main?["betas"]?.elements, b.count == 2, let b1 = b[0].doubleValue, let b2 = b[1].doubleValue {
            beta1 = b1
            beta2 = b2
        }
        var variant = "decoupled"
        if let g = main, g["bias_correction"] == nil, g["amsgrad"] != nil || g["foreach"] != nil {
            variant = "torch"
        }
        return OptimizerConfig(
            variant: variant, lr: try number("lr", "lr", 0), beta1: beta1, beta2: beta2,
            eps: try number("eps", "adam_eps", 1e-8), weightDecay: try number("weight_decay", "weight_decay", 0.01),
            gradClip: try r.double("clip_grad") ?? 1.0, decay: "matrices")
    }

    /// What the distributed optimizer's buffer layout depends on (see `DistribOptimLayout`).
    public var bufferSettings: DistribOptimSettings {
        get throws(ContainerError) {
            let r = reader
            let overlap = try r.flag("overlap_grad_reduce")
            var bucketSize: Int?
            var buckets: Int?
            if overlap {
                if let n = try r.int("ddp_num_buckets", atLeast: 1) {
                    buckets = n
                } else {
                    let group = dataParallel.multipliedReportingOverflow(by: contextParallel)
                    let (scaled, o) = group.partialValue.multipliedReportingOverflow(by: 1_000_000)
                    bucketSize = try r.int("ddp_bucket_size", atLeast: 1) ?? (group.overflow || o ? Int.max : max(40_000_000, scaled))
                }
            }
            let (group, o) = dataParallel.multipliedReportingOverflow(by: contextParallel)
            if o { throw .unsupported(path: path, detail: "args.data_parallel_size x context_parallel_size overflows") }
            return DistribOptimSettings(
                dataParallel: group, bucketSize: bucketSize, bucketCount: buckets,
                gradsInFP32: try r.flag("accumulate_allreduce_grads_in_fp32"),
                padForHighNCCLBusBandwidth: try r.flag("ddp_pad_buckets_for_high_nccl_busbw"))
        }
    }
}
