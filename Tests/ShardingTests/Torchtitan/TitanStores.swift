import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// In-memory torchtitan checkpoints of tiny llama3 models, element-encoded (element i of the
/// k-th tensor holds 1000 k + i, exactly representable), laid out as torchtitan 0.3's
/// CheckpointManager saves them: model FQNs at the top level, `optimizer.state.<param>.*` keyed
/// by parameter (the fused `wqkv` when `fused`), param groups and train_state as bytes items.
enum TitanStores {
    struct Shape {
        var dim = 32, heads = 4, kvHeads = 2, layers = 2, ffn = 48, vocab = 40
        var headDim: Int { dim / heads }
    }

    /// A job config as torchtitan's `Trainer.Config.to_dict()` shapes it (only the members ckpt
    /// reads, plus a few it must ignore); `edit` changes the decoded object before it is written.
    static func jobJSON(
        _ s: Shape = Shape(), theta: Double = 500000, eps: Double = 1e-6, tied: Bool = false,
        edit: (inout [String: Any]) -> Void = { _ in }
    ) -> [UInt8] {
        func linear(_ i: Int, _ o: Int) -> [String: Any] { ["in_features": i, "out_features": o, "bias": false, "param_init": ["weight": "<fn>"]] }
        func norm() -> [String: Any] { ["normalized_shape": s.dim, "eps": eps, "elementwise_affine": true, "param_init": NSNull()] }
        let hd = s.headDim
        let layer: [String: Any] = [
            "attention": [
                "n_heads": s.heads, "n_kv_heads": s.kvHeads, "head_dim": NSNull(), "dim": s.dim, "qk_norm": NSNull(),
                "inner_attention": ["block_size": 128],
                "qkv_linear": ["head_dim": hd, "n_heads": s.heads, "n_kv_heads": s.kvHeads, "wqkv": linear(s.dim, (s.heads + 2 * s.kvHeads) * hd)],
                "wo": linear(s.heads * hd, s.dim),
                "rope": ["dim": hd, "max_seq_len": 64, "theta": theta, "scaling": "none", "scaling_factor": 8.0],
            ],
            "feed_forward": ["w1": linear(s.dim, s.ffn), "w2": linear(s.ffn, s.dim), "w3": linear(s.dim, s.ffn)],
            "moe": NSNull(), "attention_norm": norm(), "ffn_norm": norm(),
        ]
        var doc: [String: Any] = [
            "model_spec": [
                "name": "llama3", "flavor": "test",
                "model": [
                    "dim": s.dim, "vocab_size": s.vocab, "enable_weight_tying": tied, "lm_head": linear(s.dim, s.vocab),
                    "tok_embeddings": ["num_embeddings": s.vocab, "embedding_dim": s.dim], "norm": norm(),
                    "layers": Array(repeating: layer, count: s.layers),
                ],
            ],
            "training": ["max_norm": 1.0, "seq_len": 16],
            "optimizer": ["param_groups": [["pattern": ".*", "optimizer_name": "AdamW"]]],
        ]
        edit(&doc)
        return Array(try! JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]))
    }

    static func job(_ s: Shape = Shape(), edit: (inout [String: Any]) -> Void = { _ in }) throws -> TorchtitanJobConfig {
        try TorchtitanJobConfig(json: jobJSON(s, edit: edit), path: "job_config.json")
    }

    /// The model FQNs and shapes torchtitan's state_dict gives (wq/wk/wv split by the hook).
    static func modelTensors(_ s: Shape, tied: Bool = false) -> [(String, [Int])] {
        let hd = s.headDim
        var out: [(String, [Int])] = [("tok_embeddings.weight", [s.vocab, s.dim])]
        for i in 0..<s.layers {
            let p = "layers.\(i)."
            out += [
                (p + "attention.qkv_linear.wq.weight", [s.heads * hd, s.dim]), (p + "attention.qkv_linear.wk.weight", [s.kvHeads * hd, s.dim]),
                (p + "attention.qkv_linear.wv.weight", [s.kvHeads * hd, s.dim]), (p + "attention.wo.weight", [s.dim, s.heads * hd]),
                (p + "feed_forward.w1.weight", [s.ffn, s.dim]), (p + "feed_forward.w2.weight", [s.dim, s.ffn]),
                (p + "feed_forward.w3.weight", [s.ffn, s.dim]), (p + "attention_norm.weight", [s.dim]), (p + "ffn_norm.weight", [s.dim]),
            ]
        }
        out += [("norm.weight", [s.dim]), ("lm_head.weight", [s.vocab, s.dim])]
        return out
    }

    /// The parameters (optimizer keys): wq/wk/wv as one `wqkv` when `fused`; a tied head has none.
    static func parameters(_ s: Shape, fused: Bool, tied: Bool = false) -> [(String, [Int])] {
        var out: [(String, [Int])] = []
        for (n, shape) in modelTensors(s) {
            if tied && n == "lm_head.weight" { continue }
            if fused && n.hasSuffix("qkv_linear.wq.weight") {
                out.append((n.replacingOccurrences(of: ".wq.", with: ".wqkv."), [(s.heads + 2 * s.kvHeads) * s.headDim, s.dim]))
            } else if fused && (n.hasSuffix("qkv_linear.wk.weight") || n.hasSuffix("qkv_linear.wv.weight")) {
                continue
            } else {
                out.append((n, shape))
            }
        }
        return out
    }

    /// A store; `drop` leaves out entries, `extra` adds tensors, `objects` overrides bytes items.
    static func store(
        _ s: Shape = Shape(), fused: Bool = true, tied: Bool = false, step: Float = 3, drop: Set<String> = [],
        extra: [(DistTensorEntry, [UInt8])] = [], objects: [String: PickleValue] = [:]
    ) -> InMemoryDistStore {
        var tensors: [(DistTensorEntry, [UInt8])] = []
        var k = 0
        func add(_ fqn: String, _ shape: [Int]) {
            k += 1
            guard !drop.contains(fqn) else { return }
            var bytes = Encoded.float32(shape.reduce(1, *), base: Float(1000 * k))
            // A tied head is the embedding's storage, saved under both names.
            if tied && fqn == "lm_head.weight", let e = tensors.first(where: { $0.0.fqn == "tok_embeddings.weight" }) { bytes = e.1 }
            tensors.append((DistTensorEntry(fqn: fqn, dtype: .float32, shape: shape), bytes))
        }
        for (n, shape) in modelTensors(s) { add(n, shape) }
        var items: [String: PickleValue] = [
            "train_state.step": .int(3), "train_state.ntokens_seen": .int(96), "lr_scheduler.last_epoch": .int(3), "dataloader": .none,
        ]
        for (n, shape) in parameters(s, fused: fused, tied: tied) {
            if !drop.contains("optimizer.state.\(n).step") {
                tensors.append(
                    (
                        DistTensorEntry(fqn: "optimizer.state.\(n).step", dtype: .float32, shape: []),
                        withUnsafeBytes(of: step.bitPattern.littleEndian) { Array($0) }
                    ))
            }
            add("optimizer.state.\(n).exp_avg", shape)
            add("optimizer.state.\(n).exp_avg_sq", shape)
            let g = "optimizer.param_groups.\(n)."
            items[g + "lr"] = .float(1e-3)
            items[g + "betas"] = .tuple([.float(0.9), .float(0.95)])
            items[g + "eps"] = .float(1e-8)
            items[g + "weight_decay"] = .float(0.1)
            items[g + "amsgrad"] = .bool(false)
            items[g + "maximize"] = .bool(false)
            items[g + "decoupled_weight_decay"] = .bool(true)
        }
        for (key, value) in objects { items[key] = value }
        return InMemoryDistStore(path: "mem/step-3", tensors: tensors + extra, objects: items)
    }

    /// The canonical view of a store, as `convert` reads it.
    static func view(_ store: InMemoryDistStore, job: TorchtitanJobConfig) throws -> CanonicalView {
        let (c, m) = try TorchtitanCheckpoint.open(store: store, job: job)
        let layout = CheckpointLayout(kind: .torchtitan)
        let opened = OpenedSource(
            formatName: TorchtitanFormats.name, layout: layout, config: job.model, metadata: m, paths: [.wafer: store.path],
            inventories: [.wafer: c.tensors], open: [.wafer: c], verifiesChecksums: false,
            reopen: { (_: ShardFile) throws(ShardingError) -> any TensorContainer in c })
        return try CanonicalView(source: CheckpointSource(opened: opened, path: store.path, catalog: .bundled()))
    }

    /// The float32 values of a tensor of a container.
    static func floats(_ c: any TensorContainer, _ key: TensorKey) throws -> [Float] { Encoded.values(try c.readAll(key)) }
}
