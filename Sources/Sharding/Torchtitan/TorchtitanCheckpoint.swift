import CheckpointStore
import Containers

/// Opens a torchtitan DCP checkpoint (`CheckpointManager.save`: `.metadata` +
/// `__R_k.distcp`) with the job config that describes its model.
///
/// What torchtitan 0.3 saves, one flat DCP state dict:
/// - the model's `state_dict()` at the top level (`tok_embeddings.weight`,
///   `layers.{i}.attention.qkv_linear.wq.weight`, ... `lm_head.weight`);
/// - `optimizer.state.<param fqn>.{step, exp_avg, exp_avg_sq}` (tensors) and
///   `optimizer.param_groups.<param fqn>.<setting>` (bytes items), keyed by parameter, so the
///   fused `wqkv` parameter's moments cover wq, wk and wv (`FusedStateRule`);
/// - `train_state.{step, ntokens_seen}`, `lr_scheduler.*`, `dataloader*` (bytes items).
///
/// The model tensors and the moments become a `TorchtitanStateDict` of the `torchtitan`
/// layout; the Adam step (every parameter's `step`, which must agree) is the checkpoint's step
/// (`train_state.step` without optimizer state); the param groups give the optimizer metadata;
/// every bytes item is kept as JSON in `user_metadata.torchtitan`.
public enum TorchtitanCheckpoint {
    /// The prefix of optimizer state tensors.
    static let statePrefix = "optimizer.state."

    /// The container and metadata of the checkpoint directory `path`, whose model `job`
    /// describes.
    public static func open(_ path: String, job: TorchtitanJobConfig) throws(ShardingError) -> (TorchtitanStateDict, CheckpointMetadata) {
        let store: DCPDistStore
        do { store = try DCPDistStore(directory: path) } catch { throw .from(error) }
        return try open(store: store, job: job)
    }

    /// The container and metadata of the DCP checkpoint `store` (a directory, or a test's
    /// in-memory store).
    public static func open(store: any DistCheckpointStore, job: TorchtitanJobConfig) throws(ShardingError) -> (TorchtitanStateDict, CheckpointMetadata) {
        let path = store.path
        let config = job.model
        let interpreter = try LayoutInterpreter()
        let layout = CheckpointLayout(kind: .torchtitan)
        let map = try interpreter.map(config, layout)
        let rules = try interpreter.rules(config, layout)
        var shapes: [String: [Int]] = [:]
        for t in map.tensors(in: .wafer) { shapes[t.name] = t.shape }
        let fused = try TorchtitanFusedParameter.expand(rules?.fusedOptimizerState ?? [], config: config, shapes: shapes)

        var entries: [(ContainerTensor, DistRegion)] = []
        var stepTensors: [DistTensorEntry] = []
        var ranks: [String: Int] = [:]
        var fusedUsed = Set<String>()
        for e in store.tensorEntries where !e.fqn.hasPrefix("optimizer.") {
            entries.append((ContainerTensor(key: .model(e.fqn), dtype: e.dtype, shape: e.shape), whole(e)))
        }
        for e in store.tensorEntries where e.fqn.hasPrefix("optimizer.") {
            guard e.fqn.hasPrefix(statePrefix), let dot = e.fqn.lastIndex(of: "."), e.fqn.distance(from: e.fqn.startIndex, to: dot) > statePrefix.count
            else {
                throw .container(
                    .unsupported(
                        path: path, detail: "tensor \(PrintableName.of(e.fqn)): not optimizer.state.<parameter>.<state> as torchtitan's optimizer saves it"))
            }
            let param = String(e.fqn[e.fqn.index(e.fqn.startIndex, offsetBy: statePrefix.count)..<dot])
            let state = String(e.fqn[e.fqn.index(after: dot)...])
            switch state {
            case "step":
                stepTensors.append(e)
            case "exp_avg", "exp_avg_sq":
                ranks[param] = e.shape.count
                if let f = fused[param] {
                    fusedUsed.insert(param)
                    entries += try f.entries(state: state, moment: e, path: path)
                } else {
                    entries.append((ContainerTensor(key: .optimizer(state, param), dtype: e.dtype, shape: e.shape), whole(e)))
                }
            default:
                throw .container(
                    .unsupported(
                        path: path,
                        detail:
                            "optimizer state '\(state)' of \(PrintableName.of(param)): ckpt converts AdamW's step, exp_avg and exp_avg_sq (amsgrad and other optimizers are not supported)"
                    ))
            }
        }
        var seen = Set<TensorKey>()
        for (t, _) in entries where !seen.insert(t.key).inserted {
            throw .duplicateTensor(path: path, tensor: t.key.description, other: t.key.description + " (from a fused parameter)")
        }
        try checkComplete(seen, steps: Set(stepTensors.map(\.fqn)), map: map, fused: fused, fusedUsed: fusedUsed, path: path)

        var metadata = CheckpointMetadata()
        metadata.modelConfig = config
        let groups: TorchtitanParamGroups
        do {
            groups = try TorchtitanParamGroups(store: store)
            metadata.optimizer = try groups.optimizerConfig(ranks: ranks, job: job)
            let user = try userMetadata(store, groups: groups, job: job)
            metadata.userJSON = JSONTree.object([("torchtitan", user)]).text
            if let s = try adamStep(stepTensors, store: store) {
                metadata.step = s
            } else if store.byteItemNames.contains("train_state.step"), case .int(let s) = try store.object("train_state.step").root, s >= 0 {
                metadata.step = s
            }
        } catch {
            throw .from(error)
        }
        return (TorchtitanStateDict(store: store, entries: entries), metadata)
    }

    /// With any optimizer state, every parameter of the layout has all of it: exp_avg,
    /// exp_avg_sq and its step (a frozen or half-saved parameter would leave the converted
    /// checkpoint with partial state). `fusedUsed` are the fused parameters whose moments were
    /// found.
    private static func checkComplete(
        _ keys: Set<TensorKey>, steps: Set<String>, map: LayoutMap, fused: [String: TorchtitanFusedParameter], fusedUsed: Set<String>, path: String
    ) throws(ShardingError) {
        guard keys.contains(where: { !$0.isModel }) || !steps.isEmpty else { return }
        var owner: [String: String] = [:]  // part -> the fused parameter that may hold its state
        for (name, f) in fused { for p in f.parts { owner[p.name] = name } }
        for t in map.tensors(in: .wafer) where t.isPrimary && t.holdsOptimizerState {
            let fusedOwner = owner[t.name].flatMap { fusedUsed.contains($0) ? $0 : nil }
            let param = fusedOwner ?? t.name
            for state in ["exp_avg", "exp_avg_sq"] where !keys.contains(.optimizer(state, t.name)) {
                throw .missingTensor(path: path, tensor: statePrefix + (owner[t.name] ?? t.name) + "." + state)
            }
            if !steps.contains(statePrefix + param + ".step") { throw .missingTensor(path: path, tensor: statePrefix + param + ".step") }
        }
    }

    /// The whole of a global tensor.
    private static func whole(_ e: DistTensorEntry) -> DistRegion {
        .pieces([DistRegion.Piece(fqn: e.fqn, rows: 0..<(e.shape.first ?? 1), offsets: e.shape.map { _ in 0 }, prefix: 0)])
    }

    /// The Adam step every parameter records (they must agree), or nil without optimizer state.
    private static func adamStep(_ tensors: [DistTensorEntry], store: any DistCheckpointStore) throws(ContainerError) -> Int64? {
        var step: (value: Int64, fqn: String)?
        for e in tensors {
            guard e.shape.isEmpty || e.shape == [1] else {
                throw .badTensor(path: store.path, tensor: PrintableName.of(e.fqn), detail: "an Adam step should be a scalar, found shape \(e.shape)")
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            try store.read(e.fqn, box: .whole(e.shape), into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<e.dtype.size]))
            let bytes = Array(buffer)
            let v: Double
            switch e.dtype {
            case .float32: v = Double(Float(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24))
            case .float64: v = Double(bitPattern: bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
            case .int64: v = Double(bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) })
            default: throw .badTensor(path: store.path, tensor: PrintableName.of(e.fqn), detail: "an Adam step of dtype \(e.dtype.rawValue)")
            }
            guard v >= 0, v == v.rounded(), v < 9.2e18 else {
                throw .badTensor(path: store.path, tensor: PrintableName.of(e.fqn), detail: "Adam step \(v) is not a whole number of steps")
            }
            if let s = step, s.value != Int64(v) {
                throw .badTensor(
                    path: store.path, tensor: PrintableName.of(e.fqn),
                    detail: "Adam step \(Int64(v)) differs from \(s.value) of \(PrintableName.of(s.fqn)); ckpt's checkpoint has one step")
            }
            step = step ?? (Int64(v), e.fqn)
        }
        return step?.value
    }

    /// `user_metadata.torchtitan`: every bytes item but the param groups, nested by its first
    /// component (`train_state: {step, ntokens_seen}`), the param groups, the flavor.
    private static func userMetadata(_ store: any DistCheckpointStore, groups: TorchtitanParamGroups, job: TorchtitanJobConfig) throws(ContainerError)
        -> JSONTree
    {
        var top: [(String, JSONTree)] = []
        var dropped: [String] = []
        for item in store.byteItemNames where !item.hasPrefix(TorchtitanParamGroups.prefix) {
            let value = try PickleJSON.encode(try store.object(item).root, tensorBytes: { _ in nil }, dropped: &dropped)
            let (head, rest) = item.firstIndex(of: ".").map { (String(item[..<$0]), String(item[item.index(after: $0)...])) } ?? (item, "")
            if rest.isEmpty {
                top.append((head, value))
            } else if let i = top.firstIndex(where: { $0.0 == head }), case .object(var members) = top[i].1 {
                members.append((rest, value))
                top[i].1 = .object(members)
            } else {
                top.append((head, .object([(rest, value)])))
            }
        }
        top.append(("param_groups", try groups.json()))
        if let f = job.flavor { top.append(("flavor", .string(f))) }
        return .object(top)
    }
}
