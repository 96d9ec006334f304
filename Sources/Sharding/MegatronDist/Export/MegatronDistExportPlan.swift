import CheckpointStore
import Containers

/// What one rank of a `torch_dist` export writes for each tensor of its manifest: the DCP
/// chunks megatron-core's own save would write for that rank (replica 0 only), as row slices
/// of the tensor's byte stream.
///
/// - Model tensors go to their Transformer Engine key with a stacked layer axis
///   (`MegatronDistLayout`, `.stacked`): one chunk per layer x TP shard, two for SwiGLU's
///   `linear_fc1`. Replicas (TP ranks > 0 of replicated tensors) and the last stage's copy of a
///   tied embedding are not written.
/// - Optimizer states go to the `fully_reshardable` keys `optimizer.state.{param,exp_avg,
///   exp_avg_sq}.<model key>` with the parameter's chunks (`master` is `param`). A float32
///   parameter has no master: its `param` chunks are written from the model tensor's stream.
struct MegatronDistExportPlan: Sendable {
    /// One chunk: rows `rows` of the tensor's stream are the chunk `box` of global tensor
    /// `fqn` (of shape `globalShape`).
    struct Chunk: Sendable, Hashable {
        var fqn: String
        var dtype: DType
        var globalShape: [Int]
        var box: TensorBox
        var rows: Range<Int>
    }

    /// Chunks per manifest entry (empty: the tensor's bytes are not written).
    let chunks: [[Chunk]]

    /// The plan for rank `file`'s `manifest` under `layout` (stacked, the target's TP x PP).
    /// When the manifest holds optimizer state, float32 parameters also write their `param`
    /// state.
    init(manifest: [ContainerTensor], file: ShardFile, layout: MegatronDistLayout, path: String) throws(ContainerError) {
        var locals: [String: LocalTensor] = [:]
        for t in layout.map.tensors(in: file) where locals[t.name] == nil || !(locals[t.name]?.isPrimary ?? false) {
            locals[t.name] = t
        }
        let hasOptimizer = manifest.contains { !$0.key.isModel }
        var out: [[Chunk]] = []
        for t in manifest {
            guard let local = locals[t.key.name] else {
                throw .badTensor(path: path, tensor: t.key.description, detail: "not a tensor of rank \(file) in the Megatron layout")
            }
            guard local.shape == t.shape else {
                throw .badTensor(path: path, tensor: t.key.description, detail: "shape \(t.shape), the layout gives \(local.shape) for rank \(file)")
            }
            guard local.isPrimary else {
                out.append([])
                continue
            }
            let key = layout.candidateKeys(local.name, stage: file.ppRank)[0]
            let placement = try layout.placement(of: local, path: path)
            let boxes = placement.chunks(localShape: local.shape)
            func chunks(_ fqn: String, _ dtype: DType) -> [Chunk] {
                zip(placement.pieces, boxes).map { Chunk(fqn: fqn, dtype: dtype, globalShape: placement.globalShape, box: $1, rows: $0.rows) }
            }
            if t.key.isModel {
                var list = chunks(key, t.dtype)
                if hasOptimizer && !(t.dtype == .bfloat16 || t.dtype == .float16) {
                    guard t.dtype == .float32 else {
                        throw .badTensor(path: path, tensor: t.key.description, detail: "a \(t.dtype.rawValue) parameter cannot carry fp32 optimizer state")
                    }
                    list += chunks("optimizer.state.param." + key, .float32)
                }
                out.append(list)
            } else {
                guard let s = t.key.optimizerState, ["exp_avg", "exp_avg_sq", "master"].contains(s), t.dtype == .float32 else {
                    throw .badTensor(path: path, tensor: t.key.description, detail: "section \(t.key.section) has no place in a torch_dist checkpoint")
                }
                out.append(chunks("optimizer.state.\(s == "master" ? "param" : s)." + key, .float32))
            }
        }
        self.chunks = out
    }
}
