import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// A Megatron rank read from hand-built pickle trees: names, optimizer index mapping, the
/// distributed optimizer's flat tensors, and every refusal.
@Suite struct MegatronTorchRankTests {
    private func bytes(_ source: InMemoryTorchSource, _ v: PickleValue?) throws -> [UInt8] {
        guard case .tensor(let t)? = v else { throw ContainerError.malformed(path: "test", detail: "not a tensor") }
        var out = [UInt8](repeating: 0, count: t.shape.reduce(1, *) * (DType(rawValue: t.dtypeName)?.size ?? 1))
        try out.withUnsafeMutableBytes { try source.read(t, box: .whole(t.shape), into: $0, name: "x") }
        return out
    }

    @Test func float16OptimizerStateMapsToParameterNames() throws {
        let built = try RankTrees.float16()
        let rank = try MegatronTorchRank(path: "/r/mp_rank_00_000", file: ShardFile(tpRank: 0, ppRank: 0), model: built.source, distributed: nil)
        #expect(rank.tensors.count == 7 * 4)
        #expect(rank.tensors.prefix(7).map(\.key.name) == RankTrees.params.map(\.0))
        #expect(rank.optimizerForm == "float16" && rank.naming == .local && rank.iteration == 2)
        for (key, value) in built.expected {
            #expect(try rank.readAll(key) == bytes(built.source, value), "\(key)")
        }
        #expect(rank.describe(.optimizer("master", "decoder.layers.0.input_layernorm.weight"))?.dtype == .float32)
        #expect(rank.notes.contains { $0.contains("1 _extra_state entries (None)") })
        #expect(rank.notes.contains { $0.contains("rng_state kept") })
        // A box read goes through to the archive.
        let name = "decoder.layers.0.self_attention.linear_qkv.weight"
        var rows = [UInt8](repeating: 0, count: 2 * 8 * 2)
        try rows.withUnsafeMutableBytes { try rank.read(.model(name), box: TensorBox(offsets: [3, 0], sizes: [2, 8]), into: $0) }
        #expect(rows == Array(try bytes(built.source, built.expected[.model(name)])[(3 * 16)..<(5 * 16)]))
    }

    @Test func transformerEngineNormNamesAreMapped() throws {
        let built = try RankTrees.float16(te: true)
        let rank = try MegatronTorchRank(path: "/r", file: ShardFile(tpRank: 0, ppRank: 0), model: built.source, distributed: nil)
        #expect(rank.naming == .transformerEngine)
        #expect(rank.describe(.model("decoder.layers.0.input_layernorm.weight")) != nil)
        #expect(rank.describe(.model("decoder.layers.0.self_attention.linear_qkv.layer_norm_weight")) == nil)
        #expect(
            try rank.readAll(.model("decoder.layers.0.pre_mlp_layernorm.weight"))
                == bytes(built.source, built.expected[.model("decoder.layers.0.pre_mlp_layernorm.weight")]))
    }

    @Test func aMappingThatContradictsTheShapesIsRefused() throws {
        let built = try RankTrees.float16(swapShapes: true)
        do {
            _ = try MegatronTorchRank(path: "/r", file: ShardFile(tpRank: 0, ppRank: 0), model: built.source, distributed: nil)
            Issue.record("accepted")
        } catch {
            #expect(String(describing: error).contains("linear_proj.weight") && error.description.contains("shape"), "\(error)")
        }
    }

    /// A rank of two parameters a [2, 3] and b [4] with a hand-computed buffer: walk b, a;
    /// b at 0..4, a at pad64(4) = 64..70; numel_unpadded 70.
    private func distributedRank(numel: Int64 = 70, key: PickleValue? = nil, legacy: Bool = false) throws -> (MegatronTorchRank, [Float]) {
        let b = TreeBuilder(path: "/r/model_optim_rng.pt")
        let args = try InteropFixtures.args("megatron-gpt2-tp2pp2-dp2")
        let model = TreeBuilder.dict([("a", b.tensor([2, 3], .bfloat16, seed: 1)), ("b", b.tensor([4], .bfloat16, seed: 2))])
        let groups: [PickleValue] = [
            TreeBuilder.dict([("wd_mult", .float(1)), ("lr", .float(0.001)), ("step", .float(2))]),
            TreeBuilder.dict([("wd_mult", .float(0)), ("lr", .float(0.001)), ("step", .float(2))]),
        ]
        let root = TreeBuilder.dict([
            ("args", args), ("checkpoint_version", .float(3.0)), ("iteration", .int(2)), ("model", model),
            ("optimizer", TreeBuilder.dict([("optimizer", TreeBuilder.dict([("param_groups", .list(groups))]))])),
        ])
        let d = TreeBuilder(path: "/r/distrib_optim.pt")
        let world = (0..<70).map { Float($0) }
        let state = TreeBuilder.dict([
            ("param", d.floats(world)), ("exp_avg", d.floats(world.map { $0 + 1000 })), ("exp_avg_sq", d.floats(world.map { $0 + 2000 })),
            ("numel_unpadded", .int(numel)),
        ])
        let dkey = key ?? .tuple([TreeBuilder.torch("bfloat16"), TreeBuilder.torch("float32")])
        var entries = [
            PickleDictEntry(key: .string("buckets_coalesced"), value: .bool(true)),
            PickleDictEntry(key: .int(0), value: .dict([PickleDictEntry(key: dkey, value: state)])),
        ]
        if legacy { entries = [PickleDictEntry(key: .string("per_bucket_numel"), value: .list([])), entries[1]] }
        let rank = try MegatronTorchRank(
            path: "/r", file: ShardFile(tpRank: 0, ppRank: 1), model: b.source(root), distributed: d.source(.dict(entries)))
        return (rank, world)
    }

    private func floats(_ rank: MegatronTorchRank, _ key: TensorKey) throws -> [Float] {
        try rank.readAll(key).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    @Test func distributedOptimizerTensorsAreCutFromTheFlatBuffer() throws {
        let (rank, world) = try distributedRank()
        #expect(rank.optimizerForm == "distributed")
        #expect(try floats(rank, .optimizer("master", "b")) == Array(world[0..<4]))
        #expect(try floats(rank, .optimizer("master", "a")) == Array(world[64..<70]))
        #expect(try floats(rank, .optimizer("exp_avg", "a")) == world[64..<70].map { $0 + 1000 })
        #expect(try floats(rank, .optimizer("exp_avg_sq", "b")) == world[0..<4].map { $0 + 2000 })
        #expect(rank.describe(.optimizer("exp_avg", "a"))?.shape == [2, 3])
    }

    @Test func distributedOptimizerRefusals() throws {
        #expect(throws: ContainerError.self) { try distributedRank(numel: 72) }
        do {
            _ = try distributedRank(numel: 72)
        } catch {
            #expect(String(describing: error).contains("numel_unpadded 72, the bucket walk gives 70"), "\(error)")
        }
        do {
            _ = try distributedRank(key: .tuple([TreeBuilder.torch("bfloat16"), TreeBuilder.torch("bfloat16")]))
            Issue.record("accepted a bf16 grad buffer with accumulate_allreduce_grads_in_fp32")
        } catch {
            #expect(String(describing: error).contains("accumulate_allreduce_grads_in_fp32"), "\(error)")
        }
        do {
            _ = try distributedRank(legacy: true)
            Issue.record("accepted the legacy layout")
        } catch {
            #expect(String(describing: error).contains("per_bucket_numel"), "\(error)")
        }
    }

    @Test func missingDistribOptimIsAnError() throws {
        let built = try RankTrees.float16()
        guard case .dict(var top) = built.source.root else { return }
        let i = top.firstIndex { $0.key == .string("optimizer") }!
        top[i].value = TreeBuilder.dict([("optimizer", TreeBuilder.dict([("param_groups", .list([]))]))])
        let src = InMemoryTorchSource(path: built.source.path, root: .dict(top), storages: built.source.storages)
        #expect(throws: ContainerError.self) { try MegatronTorchRank(path: "/r", file: ShardFile(tpRank: 0, ppRank: 0), model: src, distributed: nil) }
    }

    /// Model chunks the args do not make (`model1` beside `model` without a virtual pipeline).
    @Test func chunksTheArgsDoNotMakeAreRefused() throws {
        let built = try RankTrees.float16()
        guard case .dict(var top) = built.source.root else { return }
        top.append(PickleDictEntry(key: .string("model1"), value: .dict([])))
        let src = InMemoryTorchSource(path: built.source.path, root: .dict(top), storages: built.source.storages)
        do {
            _ = try MegatronTorchRank(path: "/r", file: ShardFile(tpRank: 0, ppRank: 0), model: src, distributed: nil)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("holds model, model1 but args.virtual_pipeline_model_parallel_size makes 1"), "\(error)")
        }
    }
}
