import CheckpointStore
import Containers

/// The DCP write plan of a whole `torch_dist` export (every rank's chunks and byte items in
/// one `.metadata`), computed by each rank writer the same way from the target layout:
///
/// - rank (tp, pp) writes `__{tp + TP x pp}_0.distcp` (the global rank of its DP-0 process in
///   Megatron's tp-cp-ep-dp-pp order), holding its `MegatronDistExportPlan` chunks;
/// - byte items megatron-core's load asks for: each layer module's `_extra_state` as
///   `decoder.layers.<module>._extra_state/shard_{l}_{L}` (written by TP rank 0 of the layer's
///   stage; the source's value at the source's TP x PP, else `None` as the local spec saves),
///   and, only when the source's RNG states are restored (same TP x PP), `rng_state/shard_
///   {pp}.{tp}_{PP}.{TP}`.
struct MegatronDistWritePlanner {
    let layout: MegatronDistLayout
    let naming: MegatronNaming
    let hasOptimizer: Bool
    /// dtype of each model tensor this rank knows (its manifest); others take `defaultDType`.
    let dtypes: [String: DType]
    let defaultDType: DType
    /// Whether the source's RNG states are written.
    let restoresRNG: Bool

    /// The data file of rank `f`.
    static func dataFile(_ f: ShardFile, shape: MegatronShape) -> String { "__\(f.tpRank + shape.tp * f.ppRank)_0.distcp" }

    /// The fqn of rank `f`'s RNG state item.
    static func rngItem(_ f: ShardFile, shape: MegatronShape) -> String { "rng_state/shard_\(f.ppRank).\(f.tpRank)_\(shape.pp).\(shape.tp)" }

    /// The extra-state items of stage `stage`: (fqn, rank-local key).
    func extraStateItems(stage: Int) -> [(fqn: String, local: String)] {
        let perStage = layout.config.layers / layout.shape.pp
        var out: [(String, String)] = []
        for j in 0..<perStage {
            let l = stage * perStage + j
            for key in naming.extraStateKeys(layer: "decoder.layers.\(j).") {
                let module = key.dropFirst("decoder.layers.\(j).".count)
                out.append(("decoder.layers.\(module)/shard_\(l)_\(layout.config.layers)", key))
            }
        }
        return out
    }

    /// The plan; `path` names the output in errors.
    func plan(path: String) throws(ContainerError) -> DCPWritePlan {
        let shape = layout.shape
        var order: [String] = []
        var tensors: [String: DCPPlannedTensor] = [:]
        func add(_ fqn: String, _ dtype: DType, _ globalShape: [Int], _ box: TensorBox, _ file: String) {
            if tensors[fqn] == nil {
                order.append(fqn)
                tensors[fqn] = DCPPlannedTensor(fqn: fqn, dtype: dtype, shape: globalShape, chunks: [])
            }
            tensors[fqn]?.chunks.append(DCPPlannedChunk(box: box, file: file))
        }
        var bytes: [DCPPlannedBytes] = []
        for f in shape.files {
            let file = Self.dataFile(f, shape: shape)
            for t in layout.map.tensors(in: f) where t.isPrimary && !t.isOptional {
                let key = layout.candidateKeys(t.name, stage: f.ppRank)[0]
                let p = try layout.placement(of: t, path: path)
                let boxes = p.chunks(localShape: t.shape)
                let dtype = dtypes[t.name] ?? defaultDType
                for b in boxes { add(key, dtype, p.globalShape, b, file) }
                guard hasOptimizer else { continue }
                for s in ["param", "exp_avg", "exp_avg_sq"] {
                    for b in boxes { add("optimizer.state.\(s).\(key)", .float32, p.globalShape, b, file) }
                }
            }
            if f.tpRank == 0 {
                for item in extraStateItems(stage: f.ppRank) { bytes.append(DCPPlannedBytes(fqn: item.fqn, file: file)) }
            }
            if restoresRNG { bytes.append(DCPPlannedBytes(fqn: Self.rngItem(f, shape: shape), file: file)) }
        }
        let plan = DCPWritePlan(tensors: order.compactMap { tensors[$0] }, bytesItems: bytes)
        try plan.validate(path: path)
        return plan
    }
}
