import CheckpointStore
import Containers

/// The non-tensor state of a `torch_dist` checkpoint in the form the `torch` format's metadata
/// blob (`MegatronTorchMetadata`) keeps it, so exports to either Megatron format restore it:
///
/// - `common`: every entry of the common state but `optimizer` and `content_metadata` (both
///   re-derived on export): `args`, `checkpoint_version`, `iteration`, `opt_param_scheduler`,
///   `num_floating_point_operations_so_far`, `rerun_state_machine`, ...;
/// - per rank: `rng_state` (the ShardedObject `rng_state/shard_{pp}.{tp}_{PP}.{TP}`, whose
///   payload `[rng_state_list]` is the `torch` format's per-rank value), `extra_state` (each
///   `..._extra_state/shard_{l}_{L}` item under the rank-local key
///   `decoder.layers.{j}.…._extra_state`), and `optimizer` (`form`, `param_groups`, `step`:
///   from the common state, or for `dp_reshardable` the rank's
///   `optimizer.distributed.dp_group_idx_{g}.optimizer` item).
struct MegatronDistState {
    /// Shared entries (JSON object).
    let common: JSONTree
    /// Per-rank entries (JSON objects).
    let ranks: [ShardFile: JSONTree]
    /// Rank tp0/pp0's optimizer `param_groups` (hyperparameters of the next step).
    let paramGroups: [PickleValue]

    init(
        common state: MegatronDistDirectory.CommonState, store: any DistCheckpointStore, shape: MegatronShape, layout: MegatronDistLayout,
        form: MegatronDistOptimizerForm, notes: inout [String]
    ) throws(ContainerError) {
        var dropped: [String] = []
        func encode(_ v: PickleValue, _ source: any TorchPickleSource) throws(ContainerError) -> JSONTree {
            try PickleJSON.encode(
                v, tensorBytes: { t throws(ContainerError) in try MegatronTorchState.inlineBytes(t, source: source) }, dropped: &dropped)
        }
        var common: [(String, JSONTree)] = []
        for e in state.root.entries ?? [] {
            guard case .string(let k) = e.key, k != "optimizer", k != "content_metadata" else { continue }
            common.append((k, try encode(e.value, state.source)))
        }
        self.common = .object(common)

        let items = Set(store.byteItemNames)
        var extra: [ShardFile: [(String, JSONTree)]] = [:]
        var extraCount = 0
        for name in store.byteItemNames where name.contains("._extra_state/shard_") {
            guard let (key, stage) = Self.extraStateKey(name, layout: layout) else {
                notes.append("\(name.prefix(80)): extra state of no known module; dropped")
                continue
            }
            let item = try store.object(name)
            guard let list = item.root.elements, list.count == 1 else {
                notes.append("\(name.prefix(80)): not a one-element list; dropped")
                continue
            }
            let value = try encode(list[0], item)
            for t in 0..<shape.tp { extra[ShardFile(tpRank: t, ppRank: stage), default: []].append((key, value)) }
            extraCount += 1
        }
        if extraCount > 0 { notes.append("\(extraCount) _extra_state items kept opaque in the metadata, not as tensors") }

        var groups: [PickleValue] = []
        var step: (PickleValue, any TorchPickleSource)?
        if form == .nonDistributed || form == .fullyReshardable {
            let inner = state.root["optimizer"]?["optimizer"]
            groups = inner?["param_groups"]?.elements ?? []
            if let s = inner?["state"]?["common_step"] { step = (s, state.source) }
        }
        var ranks: [ShardFile: JSONTree] = [:]
        var rngCount = 0
        for f in shape.files {
            var members: [(String, JSONTree)] = []
            let rng = "rng_state/shard_\(f.ppRank).\(f.tpRank)_\(shape.pp).\(shape.tp)"
            if items.contains(rng) {
                let item = try store.object(rng)
                guard let list = item.root.elements, list.count == 1 else { throw .malformed(path: store.path + "/" + rng, detail: "not a one-element list") }
                members.append(("rng_state", try encode(list[0], item)))
                rngCount += 1
            }
            if let e = extra[f] { members.append(("extra_state", .object(e))) }
            if form != .none {
                var rankGroups = groups
                if form == .dpReshardable {
                    let g = f.tpRank + shape.tp * f.ppRank
                    let name = "optimizer.distributed.dp_group_idx_\(g).optimizer/shard_0_1"
                    guard items.contains(name) else { throw .malformed(path: store.path, detail: "no \(name) (the rank's optimizer param_groups)") }
                    let item = try store.object(name)
                    guard let list = item.root.elements, list.count == 1, let pg = list[0]["param_groups"]?.elements else {
                        throw .malformed(path: store.path + "/" + name, detail: "not a one-element list of a dict with param_groups")
                    }
                    rankGroups = pg
                    if f == ShardFile(tpRank: 0, ppRank: 0) { groups = pg }
                }
                var o: [(String, JSONTree)] = [("form", .string(form == .nonDistributed ? "float16" : "distributed"))]
                var encoded: [JSONTree] = []
                for g in rankGroups { encoded.append(try encode(g, state.source)) }
                o.append(("param_groups", .array(encoded)))
                if let (s, src) = step { o.append(("step", try encode(s, src))) }
                members.append(("optimizer", .object(o)))
            }
            ranks[f] = .object(members)
        }
        if rngCount > 0 { notes.append("rng_state of \(rngCount) ranks kept in the metadata (restored on export at the same TP x PP)") }
        for d in dropped { notes.append("\(d) too large to keep in the metadata; dropped") }
        self.ranks = ranks
        paramGroups = groups
    }

    /// The rank-local `_extra_state` key and pipeline stage of a ShardedObject item
    /// (`decoder.layers.self_attention.linear_proj._extra_state/shard_3_4`,
    /// `decoder.layers.3.mlp.linear_fc1._extra_state/shard_0_1`,
    /// `output_layer._extra_state/shard_0_1`), or nil.
    static func extraStateKey(_ name: String, layout: MegatronDistLayout) -> (String, Int)? {
        guard let slash = name.range(of: "/shard_") else { return nil }
        let key = String(name[..<slash.lowerBound])
        let shard = name[slash.upperBound...].split(separator: "_")
        let perStage = layout.config.layers / layout.shape.pp
        guard shard.count == 2 else { return nil }
        let offsets = shard[0].split(separator: ".").compactMap { Int($0) }
        let prefix = "decoder.layers."
        if key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            let layer: Int
            let tail: Substring
            if let dot = rest.firstIndex(of: "."), let l = Int(rest[..<dot]) {
                layer = l
                tail = rest[rest.index(after: dot)...]
            } else {
                guard offsets.count == 1 else { return nil }
                layer = offsets[0]
                tail = rest
            }
            guard layer >= 0, layer < layout.config.layers else { return nil }
            let stage = layer / perStage
            return ("decoder.layers.\(layer - stage * perStage).\(tail)", stage)
        }
        if key.hasPrefix("output_layer.") { return (key, layout.shape.pp - 1) }
        if key.hasPrefix("embedding.") { return (key, 0) }
        return nil
    }
}
