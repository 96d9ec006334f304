import CheckpointStore
import Containers
import Foundation

/// Where megatron-core's `sharded_state_dict` puts each rank-local tensor of a GPTModel in a
/// `torch_dist` checkpoint: the rank's tensors are those of ckpt's Megatron layout
/// (`formats/layouts/megatron-gpt.json`, local-spec names), and each is a box of a global tensor
/// (megatron-core 0.16.1, `ShardedTensor.from_rank_offsets` of the TP split attributes):
///
/// - the global key is the Transformer Engine name (`input_layernorm.weight` ->
///   `self_attention.linear_qkv.layer_norm_weight`, also with the local spec);
/// - homogeneous models stack the layers: `decoder.layers.<name>` with a leading axis of
///   `num_layers`, local layer j of stage s at index s x L/PP + j; non-homogeneous ones keep
///   `decoder.layers.<global index>.<name>` (`LayerKeys`);
/// - the split kind of the layout rule places rank r: `column`, `vocab` and `fused` by
///   query group at rows r x n, `row` at columns r x m, `replicated` whole; `fused` by TP rank
///   (SwiGLU `linear_fc1` = `[W_r; V_r]` per rank) is stored part by part,
///   `[W_0 .. W_tp-1; V_0 .. V_tp-1]`, so part p of rank r is at rows (p x TP + r) x k;
/// - with tied embeddings and PP > 1 the last stage's `output_layer.weight` (a copy) is not
///   saved: it reads the embedding.
///
/// The rule table itself is not repeated: these are the placement rules of megatron-core's
/// sharded tensors, applied to the split kinds the Megatron table already names.
struct MegatronDistLayout: Sendable {
    /// How decoder layers are keyed.
    enum LayerKeys: String, Sendable, Hashable {
        /// `decoder.layers.<name>` with a leading layer axis.
        case stacked
        /// `decoder.layers.<i>.<name>`.
        case perLayer = "per-layer"
    }

    let config: ModelConfig
    let shape: MegatronShape
    let layerKeys: LayerKeys
    let map: LayoutMap
    private let rules: [String: LayoutRule]

    init(config: ModelConfig, shape: MegatronShape, layerKeys: LayerKeys, interpreter: LayoutInterpreter) throws(ShardingError) {
        self.config = config
        self.shape = shape
        self.layerKeys = layerKeys
        let layout = CheckpointLayout.megatron(shape)
        map = try interpreter.map(config, layout)
        var rules: [String: LayoutRule] = [:]
        for r in try interpreter.rules(config, layout)?.tensors ?? [] where rules[r.name] == nil { rules[r.name] = r }
        self.rules = rules
    }

    /// How the model tensors of `names` (the global fqns of a checkpoint) are keyed: stacked
    /// when any `decoder.layers.<name>` exists without a layer number.
    static func layerKeys(of names: [String]) -> LayerKeys {
        for n in names where n.hasPrefix("decoder.layers.") {
            let rest = n.dropFirst("decoder.layers.".count)
            if let dot = rest.firstIndex(of: "."), Int(rest[..<dot]) != nil { return .perLayer }
            return .stacked
        }
        return .stacked
    }

    /// The layer index and the name after `decoder.layers.{j}.` of a local name, or nil.
    static func splitLayer(_ name: String) -> (Int, String)? {
        let prefix = "decoder.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let j = Int(rest[..<dot]) else { return nil }
        return (j, String(rest[rest.index(after: dot)...]))
    }

    /// The rule of local tensor `name`.
    func rule(for name: String) -> LayoutRule? {
        if let (_, rest) = Self.splitLayer(name) {
            return rules["decoder.layers.{j}." + rest]
        }
        return rules[name]
    }

    /// The global keys under which local tensor `name` of stage `stage` may be stored, most
    /// likely first (Transformer Engine names, then local ones; the tied copy's embedding).
    func candidateKeys(_ name: String, stage: Int) -> [String] {
        if let (j, rest) = Self.splitLayer(name) {
            let layer = stage * (config.layers / shape.pp) + j
            let te = String(MegatronNaming.transformerEngine.key("decoder.layers.0." + rest).dropFirst("decoder.layers.0.".count))
            let base = layerKeys == .stacked ? "decoder.layers." : "decoder.layers.\(layer)."
            return te == rest ? [base + rest] : [base + te, base + rest]
        }
        if name == "output_layer.weight" && config.tieEmbeddings { return [name, "embedding.word_embeddings.weight"] }
        return [name]
    }

    /// The global layer index of local tensor `name` on stage `stage` (nil outside layers).
    func globalLayer(_ name: String, stage: Int) -> Int? {
        Self.splitLayer(name).map { stage * (config.layers / shape.pp) + $0.0 }
    }

    /// Where `local` lies in its global tensor: the global shape, the local row ranges with the
    /// global index of their first element, and the number of leading layer axes.
    struct Placement: Sendable, Hashable {
        /// Global shape of the tensor.
        var globalShape: [Int]
        /// (local rows, global index of the first row's first element).
        var pieces: [(rows: Range<Int>, offsets: [Int])]
        /// Leading size-1 global dimensions (1 with a stacked layer axis).
        var prefix: Int

        static func == (a: Placement, b: Placement) -> Bool {
            a.globalShape == b.globalShape && a.prefix == b.prefix && a.pieces.elementsEqual(b.pieces) { $0.rows == $1.rows && $0.offsets == $1.offsets }
        }

        func hash(into h: inout Hasher) {
            h.combine(globalShape)
            h.combine(prefix)
            for p in pieces {
                h.combine(p.rows)
                h.combine(p.offsets)
            }
        }

        /// The chunk each piece is: its global offsets and sizes.
        func chunks(localShape: [Int]) -> [TensorBox] {
            pieces.map { p in
                TensorBox(offsets: p.offsets, sizes: Array(repeating: 1, count: prefix) + [p.rows.count] + localShape.dropFirst())
            }
        }
    }

    /// The placement of `local` (a tensor of rank `local.file`).
    func placement(of local: LocalTensor, path: String) throws(ContainerError) -> Placement {
        let tp = shape.tp, r = local.file.tpRank
        let s = local.shape
        var expected = s
        var base = Array(repeating: 0, count: s.count)
        var pieces: [(rows: Range<Int>, offsets: [Int])] = []
        let rows = s.first ?? 1
        switch local.split {
        case .replicated:
            pieces = [(0..<rows, base)]
        case .row:
            guard s.count == 2 else { throw .malformed(path: path, detail: "\(local.name): row-parallel tensor of rank \(s.count)") }
            expected[1] = s[1] * tp
            base[1] = r * s[1]
            pieces = [(0..<rows, base)]
        case .column, .vocab:
            expected[0] = rows * tp
            base[0] = r * rows
            pieces = [(0..<rows, base)]
        case .fused:
            expected[0] = rows * tp
            if rule(for: local.name)?.blocks == .tp {
                let parts = max(1, local.canonicalNames.count)
                guard rows % parts == 0 else { throw .malformed(path: path, detail: "\(local.name): \(rows) rows do not split into \(parts) parts") }
                let k = rows / parts
                for p in 0..<parts {
                    var o = base
                    o[0] = (p * tp + r) * k
                    pieces.append((p * k..<(p + 1) * k, o))
                }
            } else {
                base[0] = r * rows
                pieces = [(0..<rows, base)]
            }
        }
        var prefix = 0
        if let layer = globalLayer(local.name, stage: local.file.ppRank), layerKeys == .stacked {
            expected.insert(config.layers, at: 0)
            prefix = 1
            pieces = pieces.map { ($0.rows, [layer] + $0.offsets) }
        }
        return Placement(globalShape: expected, pieces: pieces, prefix: prefix)
    }

    /// The region of `local` in global tensor `fqn` of shape `globalShape`, checked: the global
    /// shape must be what the split and the layer axis give.
    func region(of local: LocalTensor, fqn: String, globalShape: [Int], path: String) throws(ContainerError) -> DistRegion {
        let p = try placement(of: local, path: path)
        guard globalShape == p.globalShape else {
            throw .malformed(
                path: path,
                detail: "\(fqn) has global shape \(globalShape), rank \(local.file)'s \(local.name) \(local.shape) at TP \(shape.tp) gives \(p.globalShape)")
        }
        return .pieces(p.pieces.map { DistRegion.Piece(fqn: fqn, rows: $0.rows, offsets: $0.offsets, prefix: p.prefix) })
    }
}
