import CheckpointStore
import Containers

extension MegatronStateDictBuilder {
    /// The common dict of a `torch_dist` export (`common.pt`, megatron.core.dist_checkpointing's
    /// `save_common` of everything not sharded), as megatron-core 0.16.1 writes it for the
    /// distributed optimizer's `fully_reshardable` form:
    ///
    /// `args` (as for the `torch` format, with `ckpt_format` torch_dist, `use_dist_ckpt`,
    /// `use_distributed_optimizer` and `dist_ckpt_optim_fully_reshardable` set),
    /// `checkpoint_version` 3.0, `iteration`, `optimizer` = `{optimizer: {param_groups},
    /// param_state_sharding_type: fully_reshardable}` (groups without `params`, each with the
    /// Adam `step`), `opt_param_scheduler`, `num_floating_point_operations_so_far`,
    /// `rerun_state_machine` (the source's) and `content_metadata`.
    func distCommon(archive: any TorchArchiveSink) throws(ContainerError) -> (PickleValue, [String]) {
        var notes: [String] = MegatronArgs.ropeScalingNote(config).map { [$0] } ?? []
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        let dp = options.dataParallel ?? blob?.dataParallel ?? 1
        let paramsDType = params.first { $0.dtype == .bfloat16 || $0.dtype == .float16 }?.dtype ?? params.first?.dtype ?? .float32
        let savesRNG = sameLayout && blob?.ranks[origin]?["rng_state"] != nil
        var args = try MegatronArgs.namespace(
            config: config, shape: shape, dataParallel: dp,
            optimizer: hasOptimizer ? metadata.optimizer ?? OptimizerConfig(variant: "decoupled") : nil,
            paramsDType: paramsDType, naming: naming, savesRNG: savesRNG, base: try blob?.commonValue("args")?.value,
            tokenizerType: options.tokenizerType, process: (0, 0), path: path)
        Self.setAttributes(
            &args,
            [
                ("ckpt_format", .string("torch_dist")), ("use_dist_ckpt", .bool(true)), ("use_distributed_optimizer", .bool(hasOptimizer)),
                ("dist_ckpt_optim_fully_reshardable", .bool(hasOptimizer)), ("ckpt_fully_parallel_save", .bool(true)),
            ])
        var root: [PickleDictEntry] = []
        func put(_ k: String, _ v: PickleValue) { root.append(PickleDictEntry(key: .string(k), value: v)) }
        put("args", args)
        put("checkpoint_version", .float(3.0))
        put("iteration", .int(metadata.step))
        if hasOptimizer {
            put("optimizer", try distOptimizer())
            if let s = try blob?.commonValue("opt_param_scheduler") {
                put("opt_param_scheduler", try Self.materialise(s, archive: archive))
            } else {
                put("opt_param_scheduler", schedulerState(args: args))
                notes.append("opt_param_scheduler synthesised (constant LR): load with --override-opt_param-scheduler")
            }
        } else {
            notes.append("no optimizer state: load with --no-load-optim (or --finetune)")
        }
        if let f = try blob?.commonValue("num_floating_point_operations_so_far") {
            put("num_floating_point_operations_so_far", f.value)
        } else {
            put("num_floating_point_operations_so_far", .int(0))
        }
        if let r = try blob?.commonValue("rerun_state_machine") { put("rerun_state_machine", try Self.materialise(r, archive: archive)) }
        var content: [PickleDictEntry] = []
        if hasOptimizer {
            content.append(PickleDictEntry(key: .string("distrib_optim_sharding_type"), value: .string("fully_reshardable")))
            content.append(PickleDictEntry(key: .string("distrib_optim_fully_reshardable_mem_efficient"), value: .bool(false)))
        }
        content.append(PickleDictEntry(key: .string("singleton_local_shards"), value: .bool(false)))
        content.append(PickleDictEntry(key: .string("chained_optim_avoid_prefix"), value: .bool(true)))
        put("content_metadata", .dict(content))
        if !savesRNG { notes.append("no rng_state (\(blob == nil ? "none in the source" : "source TP x PP differs")): load with --no-load-rng") }
        return (.dict(root), notes)
    }

    /// `{optimizer: {param_groups: [...]}, param_state_sharding_type: fully_reshardable}`: one
    /// group per megatron-core default group (`wd_mult` 1 and 0), the source's entries kept.
    private func distOptimizer() throws(ContainerError) -> PickleValue {
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        var saved = try blob?.rankValue(sameLayout ? file : origin, "optimizer")
        if saved == nil { saved = try blob?.rankValue(origin, "optimizer") }
        let savedGroups = saved?.value["param_groups"]?.elements ?? []
        let groupStep = savedGroups.lazy.compactMap { $0["step"]?.doubleValue }.first
        let step = Self.number(saved?.value["step"], inline: saved?.inline ?? [:]) ?? groupStep ?? Double(metadata.step)
        let o = metadata.optimizer ?? OptimizerConfig(variant: "decoupled")
        var groups: [PickleValue] = []
        for mult in MegatronParamGroups(params: params).weightDecayMultipliers {
            let base = savedGroups.first { ($0["wd_mult"]?.doubleValue ?? 1) == mult }?.entries ?? []
            var g = group(base: base, params: [], mult: mult, optimizer: o, step: step).filter { $0.key != .string("params") }
            if let i = g.firstIndex(where: { $0.key == .string("step") }) {
                g[i].value = .float(step)
            } else {
                g.append(PickleDictEntry(key: .string("step"), value: .float(step)))
            }
            groups.append(.dict(g))
        }
        return .dict([
            PickleDictEntry(key: .string("optimizer"), value: .dict([PickleDictEntry(key: .string("param_groups"), value: .list(groups))])),
            PickleDictEntry(key: .string("param_state_sharding_type"), value: .string("fully_reshardable")),
        ])
    }

    /// Sets attributes of an `argparse.Namespace` value.
    static func setAttributes(_ ns: inout PickleValue, _ values: [(String, PickleValue)]) {
        guard case .object(var o) = ns, case .dict(var attrs)? = o.state else { return }
        for (k, v) in values {
            if let i = attrs.firstIndex(where: { $0.key == .string(k) }) {
                attrs[i].value = v
            } else {
                attrs.append(PickleDictEntry(key: .string(k), value: v))
            }
        }
        o.state = .dict(attrs)
        ns = .object(o)
    }
}
