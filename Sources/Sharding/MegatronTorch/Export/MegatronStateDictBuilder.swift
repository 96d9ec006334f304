import CheckpointStore
import Containers

/// Builds the root dict of one rank's `model_optim_rng.pt` (see `MegatronTorchRankWriter`).
///
/// Restored from the metadata's `megatron` blob when there is one: the args (with every
/// architecture and parallelism attribute set anew), `opt_param_scheduler`,
/// `rerun_state_machine`, `num_floating_point_operations_so_far`, the optimizer's
/// hyperparameter groups, `grad_scaler` and step; and, only when the target has the source's
/// TP x PP, this rank's `rng_state` and `_extra_state` entries.
///
/// Synthesised otherwise: a fresh args Namespace; parameter groups holding
/// `torch.optim.AdamW`'s keys and megatron-core's (`wd_mult`, `lr_mult`, `is_expert_parallel`,
/// `is_decoupled_lr`, `default_config`, `max_lr`, `min_lr`), plus Apex/TE `FusedAdam`'s
/// (`bias_correction`, `adam_w_mode`, `step`) unless the optimizer variant is `torch`; a
/// constant-LR scheduler state (megatron then needs `--override-opt_param-scheduler` or
/// `--use-checkpoint-opt_param-scheduler`); no `rng_state` (megatron needs `--no-load-rng`, as
/// for the output of its own converter); `_extra_state` entries as `None` (what the local
/// spec's linear layers save, and what Transformer Engine's `set_extra_state` accepts).
struct MegatronStateDictBuilder {
    let path: String
    let file: ShardFile
    let shape: MegatronShape
    let config: ModelConfig
    let metadata: CheckpointMetadata
    let options: MegatronTorchExportOptions
    let naming: MegatronNaming
    let params: [MegatronParamGroups.Param]
    let hasOptimizer: Bool
    let blob: MegatronTorchMetadata?
    let sameLayout: Bool

    init(
        path: String, file: ShardFile, shape: MegatronShape, config: ModelConfig, metadata: CheckpointMetadata,
        params manifestParams: [ContainerTensor], hasOptimizer: Bool, options: MegatronTorchExportOptions
    ) throws(ContainerError) {
        self.path = path
        self.file = file
        self.shape = shape
        self.config = config
        self.metadata = metadata
        self.options = options
        self.hasOptimizer = hasOptimizer
        let blob = MegatronTorchMetadata.parse(userJSON: metadata.userJSON)
        self.blob = blob
        sameLayout = blob.map { $0.shape.tp == shape.tp && $0.shape.pp == shape.pp && $0.shape.vpp == shape.vpp } ?? false
        var naming = options.naming ?? .local
        if options.naming == nil, let b = blob, let args = try b.commonValue("args")?.value, args["transformer_impl"] == .string("transformer_engine") {
            naming = .transformerEngine
        }
        self.naming = naming
        // Chunk after chunk (a virtual pipeline's model0, model1, ...), each in registration
        // order: the order of the optimizer's parameter indices.
        let vpp = shape.vpp
        func order(_ name: String) -> (Int, Int, Int, Int, String) {
            let (chunk, local) = MegatronNaming.splitChunk(name, vpp: vpp)
            let o = naming.registrationOrder(naming.key(local))
            return (chunk, o.0, o.1, o.2, o.3)
        }
        params = manifestParams.map { MegatronParamGroups.Param(name: $0.key.name, shape: $0.shape, dtype: $0.dtype) }
            .sorted { order($0.name) < order($1.name) }
    }

    /// A dense tensor over a whole storage.
    static func dense(_ storage: TorchStorageRef, dtypeName: String, shape: [Int]) -> TorchTensorRef {
        var strides = Array(repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return TorchTensorRef(
            storage: storage, dtypeName: dtypeName, storageOffset: 0, shape: shape, strides: strides, requiresGrad: false, isParameter: false)
    }

    /// The root dict; small extra storages (optimizer steps, inlined RNG and extra-state
    /// tensors) are written to `archive` on the way.
    func build(written: [TensorKey: TorchTensorRef], archive: any TorchArchiveSink) throws(ContainerError) -> (PickleValue, [String]) {
        var notes: [String] = MegatronArgs.ropeScalingNote(config).map { [$0] } ?? []
        let rank = sameLayout ? file : nil
        let rng = try rank.flatMap { (f: ShardFile) throws(ContainerError) in try blob?.rankValue(f, "rng_state") }
        let dp = options.dataParallel ?? blob?.dataParallel ?? 1
        // Megatron's default rank order tp-cp-ep-dp-pp: the (tp, pp) rank's DP-0 process.
        var process = (rank: Int64(file.tpRank + shape.tp * dp * file.ppRank), localRank: Int64(file.tpRank + shape.tp * dp * file.ppRank))
        if let r = rank, case .int(let g)? = blob?.ranks[r]?["args"]?["rank"], case .int(let l)? = blob?.ranks[r]?["args"]?["local_rank"] {
            process = (g, l)
        }
        let paramsDType = params.first { $0.dtype == .bfloat16 || $0.dtype == .float16 }?.dtype ?? params.first?.dtype ?? .float32
        let args = try MegatronArgs.namespace(
            config: config, shape: shape, dataParallel: dp,
            optimizer: hasOptimizer ? metadata.optimizer ?? OptimizerConfig(variant: "decoupled") : nil,
            paramsDType: paramsDType, naming: naming, savesRNG: rng != nil, base: try blob?.commonValue("args")?.value,
            tokenizerType: options.tokenizerType, process: process, path: path)
        var root: [PickleDictEntry] = []
        func put(_ k: String, _ v: PickleValue) { root.append(PickleDictEntry(key: .string(k), value: v)) }
        put("args", args)
        put("checkpoint_version", .float(3.0))
        put("iteration", .int(metadata.step))
        // state_dict() is an OrderedDict; one per model chunk (model0, model1, ...) with a
        // virtual pipeline.
        for chunk in 0..<shape.vpp {
            let model = try modelEntries(chunk: chunk, written: written, archive: archive, notes: &notes)
            put(
                shape.vpp == 1 ? "model" : "model\(chunk)",
                .object(PickleObject(type: PickleGlobal(module: "collections", name: "OrderedDict"), dictItems: model)))
        }
        if hasOptimizer {
            put("optimizer", try optimizerEntry(written: written, archive: archive))
            if let s = try blob?.commonValue("opt_param_scheduler") {
                put("opt_param_scheduler", try Self.materialise(s, archive: archive))
            } else {
                put("opt_param_scheduler", schedulerState(args: args))
                notes.append("opt_param_scheduler synthesised (constant LR): load with --override-opt_param-scheduler")
            }
        } else {
            notes.append("no optimizer state: load with --no-load-optim (or --finetune)")
        }
        if let r = try blob?.commonValue("rerun_state_machine") { put("rerun_state_machine", try Self.materialise(r, archive: archive)) }
        if let r = rng {
            put("rng_state", try Self.materialise(r, archive: archive))
        } else {
            notes.append("no rng_state (\(blob == nil ? "none in the source" : "source TP x PP differs")): load with --no-load-rng")
        }
        if let f = try blob?.commonValue("num_floating_point_operations_so_far") {
            put("num_floating_point_operations_so_far", f.value)
        } else {
            put("num_floating_point_operations_so_far", .int(0))
        }
        let handled: Set<String> = [
            "args", "checkpoint_version", "iteration", "opt_param_scheduler", "rerun_state_machine", "num_floating_point_operations_so_far",
        ]
        if case .object(let members)? = blob?.common {
            for (k, _) in members where !handled.contains(k) && !k.hasPrefix("model") {
                if let v = try blob?.commonValue(k) { put(k, try Self.materialise(v, archive: archive)) }
            }
        }
        return (.dict(root), notes)
    }

    /// The state dict of model chunk `chunk` (the only one without a virtual pipeline) in
    /// registration order, `_extra_state` entries included.
    private func modelEntries(chunk: Int, written: [TensorKey: TorchTensorRef], archive: any TorchArchiveSink, notes: inout [String])
        throws(ContainerError) -> [PickleDictEntry]
    {
        let vpp = shape.vpp
        var entries: [(String, PickleValue)] = []
        var locals: [String] = []
        for p in params {
            let (c, local) = MegatronNaming.splitChunk(p.name, vpp: vpp)
            guard c == chunk else { continue }
            guard let t = written[.model(p.name)] else { throw .noSuchTensor(path: path, tensor: p.name) }
            entries.append((naming.key(local), .tensor(t)))
            locals.append(local)
        }
        var extra: [String: PickleValue] = [:]
        var kept: [String] = []
        if sameLayout, let e = try blob?.rankValue(file, "extra_state"), case .dict(let d) = try Self.materialise(e, archive: archive) {
            for e in d {
                guard case .string(let k) = e.key else { continue }
                let (c, local) = MegatronNaming.splitChunk(k, vpp: vpp)
                guard c == chunk else { continue }
                extra[local] = e.value
                kept.append(local)
            }
        }
        var layers: [String] = []
        for name in locals where name.hasPrefix("decoder.layers.") {
            let rest = name.dropFirst("decoder.layers.".count)
            if let dot = rest.firstIndex(of: ".") {
                let prefix = "decoder.layers." + rest[..<dot] + "."
                if !layers.contains(prefix) { layers.append(prefix) }
            }
        }
        var extraKeys = layers.flatMap { naming.extraStateKeys(layer: $0) }
        // The output layer: on the last stage, in its last model chunk (post_process).
        if file.ppRank == shape.pp - 1 && chunk == vpp - 1 { extraKeys.append(MegatronNaming.outputExtraState) }
        for k in kept where !extraKeys.contains(k) { extraKeys.append(k) }
        let teNote = "Transformer Engine _extra_state entries written as None"
        if naming == .transformerEngine && extraKeys.contains(where: { extra[$0] == nil }) && !notes.contains(teNote) {
            notes.append(teNote)
        }
        for k in extraKeys { entries.append((k, extra[k] ?? .none)) }
        return entries.sorted { naming.registrationOrder($0.0) < naming.registrationOrder($1.0) }
            .map { PickleDictEntry(key: .string($0.0), value: $0.1) }
    }

    /// Streams `bytes` into `sink` and finishes it.
    static func append(_ bytes: [UInt8], to sink: any TensorByteSink) throws(ContainerError) {
        let failure: ContainerError? = bytes.withUnsafeBytes { b in
            do throws(ContainerError) {
                try sink.append(b)
                return nil
            } catch { return error }
        }
        if let failure { throw failure }
        try sink.finish()
    }

    /// Writes the inline tensors of a decoded metadata value as storages.
    static func materialise(_ d: PickleJSON.Decoded, archive: any TorchArchiveSink) throws(ContainerError) -> PickleValue {
        var done: [String: TorchStorageRef] = [:]
        return try rewrite(d.value, inline: d.inline, done: &done, archive: archive)
    }

    private static func rewrite(
        _ v: PickleValue, inline: [String: [UInt8]], done: inout [String: TorchStorageRef], archive: any TorchArchiveSink
    ) throws(ContainerError) -> PickleValue {
        func all(_ items: [PickleValue]) throws(ContainerError) -> [PickleValue] {
            var out: [PickleValue] = []
            for i in items { out.append(try rewrite(i, inline: inline, done: &done, archive: archive)) }
            return out
        }
        switch v {
        case .list(let items): return .list(try all(items))
        case .tuple(let items): return .tuple(try all(items))
        case .set(let items): return .set(try all(items))
        case .dict(let entries):
            var out: [PickleDictEntry] = []
            for e in entries {
                out.append(PickleDictEntry(key: e.key, value: try rewrite(e.value, inline: inline, done: &done, archive: archive)))
            }
            return .dict(out)
        case .object(var o):
            o.args = try all(o.args)
            if let s = o.state { o.state = try rewrite(s, inline: inline, done: &done, archive: archive) }
            o.listItems = try all(o.listItems)
            var items: [PickleDictEntry] = []
            for e in o.dictItems {
                items.append(PickleDictEntry(key: e.key, value: try rewrite(e.value, inline: inline, done: &done, archive: archive)))
            }
            o.dictItems = items
            return .object(o)
        case .tensor(var t):
            guard let bytes = inline[t.storage.key] else { return v }
            if let s = done[t.storage.key] {
                t.storage = s
                return .tensor(t)
            }
            guard let dtype = TorchDTypeName.dtype(t.dtypeName), bytes.count == t.shape.reduce(1, *) * dtype.size else {
                throw .malformed(path: "metadata", detail: "an inlined \(t.dtypeName)\(t.shape) tensor holds \(bytes.count) bytes")
            }
            let (storage, sink) = try archive.beginStorage(dtypeName: t.dtypeName, elementCount: bytes.count / dtype.size)
            try Self.append(bytes, to: sink)
            done[t.storage.key] = storage
            t.storage = storage
            return .tensor(t)
        default:
            return v
        }
    }
}
