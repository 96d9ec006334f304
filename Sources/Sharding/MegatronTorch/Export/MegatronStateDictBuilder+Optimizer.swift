import CheckpointStore
import Containers

extension MegatronStateDictBuilder {
    /// `optimizer`: `Float16OptimizerWithFloat16Params.state_dict()` when the model has
    /// bfloat16/float16 parameters (`{optimizer: {state, param_groups}, [grad_scaler],
    /// fp32_from_fp16_params}`), else `FP32Optimizer`'s (`{state, param_groups}`). `state` is
    /// keyed by megatron-core 0.16.1's parameter index (`MegatronParamGroups`), each entry
    /// `{step, exp_avg, exp_avg_sq}` with `step` a 0-d float32 tensor of its own (torch's AdamW
    /// increments it in place).
    func optimizerEntry(written: [TensorKey: TorchTensorRef], archive: any TorchArchiveSink) throws(ContainerError) -> PickleValue {
        let groups = MegatronParamGroups(params: params)
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        var saved = try blob?.rankValue(sameLayout ? file : origin, "optimizer")
        if saved == nil { saved = try blob?.rankValue(origin, "optimizer") }
        let savedValue = saved?.value
        let savedGroups = savedValue?["param_groups"]?.elements ?? []
        let groupStep = savedGroups.lazy.compactMap { $0["step"]?.doubleValue }.first
        let step = Self.number(savedValue?["step"], inline: saved?.inline ?? [:]) ?? groupStep ?? Double(metadata.step)
        let o = metadata.optimizer ?? OptimizerConfig(variant: "decoupled")

        var state: [PickleDictEntry] = []
        var paramGroups: [PickleValue] = []
        for (g, members) in groups.groups.enumerated() {
            let mult = groups.weightDecayMultipliers[g]
            var indices: [PickleValue] = []
            for p in members {
                let i = state.count
                indices.append(.int(Int64(i)))
                guard let m = written[.optimizer("exp_avg", p.name)], let v = written[.optimizer("exp_avg_sq", p.name)] else {
                    throw .noSuchTensor(path: path, tensor: "optimizer.exp_avg.\(p.name)")
                }
                let (storage, sink) = try archive.beginStorage(dtypeName: "float32", elementCount: 1)
                try Self.append(withUnsafeBytes(of: Float(step).bitPattern.littleEndian) { Array($0) }, to: sink)
                let stepTensor = Self.dense(storage, dtypeName: "float32", shape: [])
                state.append(
                    PickleDictEntry(
                        key: .int(Int64(i)),
                        value: .dict([
                            PickleDictEntry(key: .string("step"), value: .tensor(stepTensor)),
                            PickleDictEntry(key: .string("exp_avg"), value: .tensor(m)),
                            PickleDictEntry(key: .string("exp_avg_sq"), value: .tensor(v)),
                        ])))
            }
            let base = savedGroups.first { ($0["wd_mult"]?.doubleValue ?? 1) == mult }?.entries ?? []
            paramGroups.append(.dict(group(base: base, params: indices, mult: mult, optimizer: o, step: step)))
        }
        let torchState = PickleValue.dict([
            PickleDictEntry(key: .string("state"), value: .dict(state)),
            PickleDictEntry(key: .string("param_groups"), value: .list(paramGroups)),
        ])
        let half = params.contains { $0.dtype == .bfloat16 || $0.dtype == .float16 }
        guard half else { return torchState }
        var entry = [PickleDictEntry(key: .string("optimizer"), value: torchState)]
        if let s = savedValue?["grad_scaler"], s != .none, let inline = saved?.inline {
            let scaler = try Self.materialise(PickleJSON.Decoded(value: s, inline: inline), archive: archive)
            entry.append(PickleDictEntry(key: .string("grad_scaler"), value: scaler))
        }
        var masters: [PickleValue] = []
        for list in groups.masterLists {
            var items: [PickleValue] = []
            for p in list {
                guard let t = written[.optimizer("master", p.name)] else { throw .noSuchTensor(path: path, tensor: "optimizer.master.\(p.name)") }
                items.append(.tensor(t))
            }
            masters.append(.list(items))
        }
        entry.append(PickleDictEntry(key: .string("fp32_from_fp16_params"), value: .list(masters)))
        return .dict(entry)
    }

    /// One param group: the saved one's entries (if any) with `params` and the
    /// hyperparameters set from `optimizer`, completed with the keys torch's AdamW, Apex/TE
    /// FusedAdam and megatron-core's param-group matching read.
    func group(base: [PickleDictEntry], params indices: [PickleValue], mult: Double, optimizer o: OptimizerConfig, step: Double) -> [PickleDictEntry] {
        var g = base
        func set(_ k: String, _ v: PickleValue) {
            if let i = g.firstIndex(where: { $0.key == .string(k) }) { g[i].value = v } else { g.append(PickleDictEntry(key: .string(k), value: v)) }
        }
        func setIfAbsent(_ k: String, _ v: PickleValue) {
            if !g.contains(where: { $0.key == .string(k) }) { g.append(PickleDictEntry(key: .string(k), value: v)) }
        }
        set("params", .list(indices))
        set("lr", .float(o.lr))
        set("betas", .tuple([.float(o.beta1), .float(o.beta2)]))
        set("eps", .float(o.eps))
        set("weight_decay", .float(o.weightDecay * mult))
        set("wd_mult", .float(mult))
        var defaults: [(String, PickleValue)] = [
            ("is_expert_parallel", .bool(false)), ("default_config", .bool(true)), ("lr_mult", .float(1)),
            ("is_decoupled_lr", .bool(false)), ("max_lr", .float(o.lr)), ("min_lr", .float(o.lr)), ("amsgrad", .bool(false)),
            ("foreach", .none), ("maximize", .bool(false)), ("capturable", .bool(false)), ("differentiable", .bool(false)),
            ("fused", .none), ("decoupled_weight_decay", .bool(true)),
        ]
        // torch's AdamW fills the keys it lacks itself (`__setstate__`); FusedAdam does not, so
        // a `decoupled` state carries its keys too (a `torch` one keeps torch's, as the real file).
        if o.variant != "torch" {
            defaults += [("bias_correction", .bool(true)), ("adam_w_mode", .bool(true)), ("step", .int(Int64(step)))]
        }
        for (k, v) in defaults { setIfAbsent(k, v) }
        return g
    }

    /// A synthesised `OptimizerParamScheduler.state_dict()` holding the current LR constant.
    func schedulerState(args: PickleValue) -> PickleValue {
        let o = metadata.optimizer ?? OptimizerConfig(variant: "decoupled")
        let batch = args["global_batch_size"]?.intValue ?? 1
        let steps = PickleValue.int(max(1, metadata.step * batch))
        return .dict([
            PickleDictEntry(key: .string("max_lr"), value: .float(o.lr)),
            PickleDictEntry(key: .string("lr_warmup_steps"), value: .int(0)),
            PickleDictEntry(key: .string("num_steps"), value: .int(metadata.step * batch)),
            PickleDictEntry(key: .string("lr_decay_style"), value: .string("constant")),
            PickleDictEntry(key: .string("lr_decay_steps"), value: steps),
            PickleDictEntry(key: .string("min_lr"), value: .float(o.lr)),
            PickleDictEntry(key: .string("start_wd"), value: .float(o.weightDecay)),
            PickleDictEntry(key: .string("end_wd"), value: .float(o.weightDecay)),
            PickleDictEntry(key: .string("wd_incr_style"), value: .string("constant")),
            PickleDictEntry(key: .string("wd_incr_steps"), value: steps),
        ])
    }

    /// A saved step: a number, or a 0-d float32 tensor inlined in the metadata.
    static func number(_ v: PickleValue?, inline: [String: [UInt8]]) -> Double? {
        guard let v else { return nil }
        if let d = v.doubleValue { return d }
        if case .tensor(let t) = v, t.dtypeName == "float32", let b = inline[t.storage.key], b.count == 4 {
            return Double(Float(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24))
        }
        return nil
    }
}
