import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// Hand-built Megatron rank files (pickle trees), with the expected index -> parameter mapping
/// written out by hand rather than computed by the code under test.
enum RankTrees {
    /// A first-stage llama-like rank in registration order: name, shape.
    static let params: [(String, [Int])] = [
        ("embedding.word_embeddings.weight", [56, 8]),
        ("decoder.layers.0.input_layernorm.weight", [8]),
        ("decoder.layers.0.self_attention.linear_proj.weight", [8, 4]),
        ("decoder.layers.0.self_attention.linear_qkv.weight", [12, 8]),
        ("decoder.layers.0.pre_mlp_layernorm.weight", [8]),
        ("decoder.layers.0.mlp.linear_fc1.weight", [16, 8]),
        ("decoder.layers.0.mlp.linear_fc2.weight", [8, 8]),
    ]
    /// megatron-core's optimizer index of each parameter above: matrices first, then vectors.
    static let indexOf: [String: Int] = [
        "embedding.word_embeddings.weight": 0, "decoder.layers.0.self_attention.linear_proj.weight": 1,
        "decoder.layers.0.self_attention.linear_qkv.weight": 2, "decoder.layers.0.mlp.linear_fc1.weight": 3,
        "decoder.layers.0.mlp.linear_fc2.weight": 4, "decoder.layers.0.input_layernorm.weight": 5,
        "decoder.layers.0.pre_mlp_layernorm.weight": 6,
    ]

    struct Built {
        let source: InMemoryTorchSource
        /// Tensor values by (section, name) as placed in the tree.
        let expected: [TensorKey: PickleValue]
    }

    static func group(_ ids: [Int], wd: Double) -> PickleValue {
        TreeBuilder.dict([
            ("params", .list(ids.map { .int(Int64($0)) })), ("lr", .float(0.00097)), ("betas", .tuple([.float(0.9), .float(0.95)])),
            ("eps", .float(1e-8)), ("weight_decay", .float(0.1 * wd)), ("amsgrad", .bool(false)), ("foreach", .none),
            ("wd_mult", .float(wd)), ("lr_mult", .float(1)), ("is_expert_parallel", .bool(false)), ("is_decoupled_lr", .bool(false)),
            ("default_config", .bool(true)), ("max_lr", .float(0.001)), ("min_lr", .float(0.0001)),
        ])
    }

    /// A Float16OptimizerWithFloat16Params rank; `te` writes Transformer Engine norm names.
    static func float16(te: Bool = false, swapShapes: Bool = false) throws -> Built {
        let b = TreeBuilder(path: "/r/mp_rank_00_000/model_optim_rng.pt")
        var model: [(String, PickleValue)] = []
        var expected: [TensorKey: PickleValue] = [:]
        for (k, (name, shape)) in params.enumerated() {
            let t = b.tensor(shape, .bfloat16, seed: UInt64(k) * 8)
            model.append((te ? MegatronNaming.transformerEngine.key(name) : name, t))
            expected[.model(name)] = t
            if name.hasSuffix("linear_qkv.weight") { model.append((name.replacingOccurrences(of: ".weight", with: "._extra_state"), .none)) }
        }
        var state: [(Int, PickleValue)] = []
        for (k, (name, shape)) in params.enumerated() {
            let i = indexOf[name]!
            let m = b.tensor(swapShapes && i == 1 ? [4, 8] : shape, .float32, seed: UInt64(k) * 8 + 1)
            let v = b.tensor(shape, .float32, seed: UInt64(k) * 8 + 2)
            let master = b.tensor(shape, .float32, seed: UInt64(k) * 8 + 3)
            expected[.optimizer("exp_avg", name)] = m
            expected[.optimizer("exp_avg_sq", name)] = v
            expected[.optimizer("master", name)] = master
            state.append((i, TreeBuilder.dict([("step", b.floats([2])), ("exp_avg", m), ("exp_avg_sq", v)])))
        }
        // fp32_from_fp16_params lists follow group order (index order within the group).
        var ordered: [[PickleValue]] = [[], []]
        for i in 0..<7 {
            let name = indexOf.first { $0.value == i }!.key
            ordered[i < 5 ? 0 : 1].append(expected[.optimizer("master", name)]!)
        }
        let optimizer = TreeBuilder.dict([
            (
                "optimizer",
                TreeBuilder.dict([
                    ("state", .dict(state.sorted { $0.0 < $1.0 }.map { PickleDictEntry(key: .int(Int64($0.0)), value: $0.1) })),
                    ("param_groups", .list([group([0, 1, 2, 3, 4], wd: 1), group([5, 6], wd: 0)])),
                ])
            ),
            ("fp32_from_fp16_params", .list(ordered.map { .list($0) })),
        ])
        let root = TreeBuilder.dict([
            ("args", try InteropFixtures.args("megatron-llama-tp2pp2")), ("checkpoint_version", .float(3.0)), ("iteration", .int(2)),
            ("model", TreeBuilder.dict(model)), ("optimizer", optimizer),
            ("opt_param_scheduler", TreeBuilder.dict([("max_lr", .float(0.001)), ("num_steps", .int(8))])),
            ("rng_state", .list([TreeBuilder.dict([("torch_rng_state", b.tensor([16], .uint8, seed: 99)), ("random_rng_state", .tuple([.int(3)]))])])),
            ("num_floating_point_operations_so_far", .float(1.5e9)),
        ])
        return Built(source: b.source(root), expected: expected)
    }
}
