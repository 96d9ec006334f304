import CheckpointStore
import Containers

/// The non-tensor state of a Megatron `torch` checkpoint as it rides in
/// `CheckpointMetadata.userJSON` under the key `megatron`, so export restores it:
///
/// ```json
/// {"megatron": {"format": "megatron-torch", "version": 1, "tp": 2, "pp": 2, ["vpp": 2,] "vocab_divisible_by": 128,
///   "dp": 1, "common": {"args": ..., "checkpoint_version": ..., "opt_param_scheduler": ..., ...},
///   "ranks": {"tp0/pp0": {"rng_state": ..., "extra_state": {...}, "optimizer": {"form": ...,
///   "param_groups": [...], "grad_scaler": ..., "step": ...}}, ...}}}
/// ```
///
/// Values are in `PickleJSON` form. `common` is rank tp0/pp0's (every rank agrees on it).
/// `vpp` (the virtual pipeline size) is written only when it is not 1; the `extra_state` keys
/// of a virtual pipeline carry their chunk prefix (`model1.output_layer._extra_state`).
public struct MegatronTorchMetadata: Sendable, Hashable {
    /// The source's parallel shape.
    public var shape: MegatronShape
    /// The source's data-parallel size.
    public var dataParallel: Int
    /// Shared entries (JSON object).
    let common: JSONTree
    /// Per-rank entries (JSON objects).
    let ranks: [ShardFile: JSONTree]

    init(shape: MegatronShape, dataParallel: Int, ranks: [ShardFile: MegatronTorchRank]) {
        self.shape = shape
        self.dataParallel = dataParallel
        common = ranks[ShardFile(tpRank: 0, ppRank: 0)]?.state.common ?? .object([])
        self.ranks = ranks.mapValues { $0.state.rank }
    }

    init(shape: MegatronShape, dataParallel: Int, common: JSONTree, ranks: [ShardFile: JSONTree]) {
        self.shape = shape
        self.dataParallel = dataParallel
        self.common = common
        self.ranks = ranks
    }

    /// `{"megatron": {...}}`.
    public var userJSON: String {
        JSONTree.object([("megatron", tree)]).text
    }

    var tree: JSONTree {
        let vpp: [(String, JSONTree)] = shape.vpp == 1 ? [] : [("vpp", .int(Int64(shape.vpp)))]
        return .object(
            [
                ("format", .string("megatron-torch")), ("version", .int(1)), ("tp", .int(Int64(shape.tp))),
                ("pp", .int(Int64(shape.pp))),
            ] + vpp + [
                ("vocab_divisible_by", .int(Int64(shape.vocabDivisibleBy))),
                ("dp", .int(Int64(dataParallel))), ("common", common),
                ("ranks", .object(ranks.sorted { $0.key < $1.key }.map { ($0.key.description, $0.value) })),
            ])
    }

    /// The blob in a `userJSON` document, or nil when it has none (or it is not this format).
    public static func parse(userJSON: String?) -> MegatronTorchMetadata? {
        guard let text = userJSON, let doc = JSONTree.parse(text), let m = doc["megatron"],
            m["format"] == .string("megatron-torch"), case .int(let tp)? = m["tp"], case .int(let pp)? = m["pp"],
            case .int(let d)? = m["vocab_divisible_by"], case .int(let dp)? = m["dp"], tp >= 1, pp >= 1, d >= 1, dp >= 1,
            tp < 1 << 20, pp < 1 << 20, d < 1 << 40, dp < 1 << 30,
            let common = m["common"], case .object(let rankMembers)? = m["ranks"]
        else { return nil }
        var vpp: Int64 = 1
        if let v = m["vpp"] {
            guard case .int(let n) = v, n >= 1, n < 1 << 20 else { return nil }
            vpp = n
        }
        var ranks: [ShardFile: JSONTree] = [:]
        for (k, v) in rankMembers {
            let parts = k.split(separator: "/")
            guard parts.count == 2, parts[0].hasPrefix("tp"), parts[1].hasPrefix("pp"), let t = Int(parts[0].dropFirst(2)),
                let p = Int(parts[1].dropFirst(2))
            else { return nil }
            ranks[ShardFile(tpRank: t, ppRank: p)] = v
        }
        return MegatronTorchMetadata(
            shape: MegatronShape(tp: Int(tp), pp: Int(pp), vpp: Int(vpp), vocabDivisibleBy: Int(d)), dataParallel: Int(dp), common: common,
            ranks: ranks)
    }

    /// A shared entry (`args`, `opt_param_scheduler`, ...) decoded, or nil.
    func commonValue(_ key: String) throws(ContainerError) -> PickleJSON.Decoded? {
        guard let j = common[key] else { return nil }
        return try PickleJSON.decode(j, path: "metadata")
    }

    /// A rank's entry (`rng_state`, `extra_state`, `optimizer`) decoded, or nil.
    func rankValue(_ file: ShardFile, _ key: String) throws(ContainerError) -> PickleJSON.Decoded? {
        guard let j = ranks[file]?[key] else { return nil }
        return try PickleJSON.decode(j, path: "metadata")
    }
}
