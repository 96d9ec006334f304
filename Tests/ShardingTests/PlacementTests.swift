import CheckpointStore
import Testing

@testable import Sharding

/// Pins the exact Megatron placement: every element encodes (tensor, row, column) of the
/// canonical tensor it came from, and the tests assert where it lands.
@Suite struct PlacementTests {
    let planner: ReshardPlanner
    init() throws { planner = try ReshardPlanner() }

    func shard(_ config: ModelConfig, tp: Int, pp: Int, divisor: Int = 128)
        throws -> (out: [ShardFile: [String: Matrix]], index: [String: Int], plan: ReshardPlan)
    {
        let (wafer, index) = InMemoryShards.encodedWafer(config)
        let plan = try planner.plan(config, from: .wafer, to: .megatron(MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: divisor)))
        return (InMemoryShards.apply(plan, to: wafer), index, plan)
    }

    func code(_ index: [String: Int], _ name: String, _ row: Int, _ col: Int) -> Float {
        InMemoryShards.code(index[name]!, row, col)
    }

    @Test func multiHeadQKVGroupsOneHeadPerGroup() throws {
        // gpt2: C=16, 8 heads of dim 2, MHA (8 groups), TP=2: each rank 4 groups x (1 q + k + v) x 2 rows.
        let (out, ix, _) = try shard(TinyModels.gpt2, tp: 2, pp: 1)
        let r1 = out[ShardFile(tpRank: 1, ppRank: 0)]!["decoder.layers.3.self_attention.linear_qkv.weight"]!
        #expect(r1.shape == [24, 16])
        // Literal spot checks (rank 1 starts at head 4 = canonical row 8).
        #expect(r1[0, 5] == code(ix, "layers.3.attn.q.weight", 8, 5))
        #expect(r1[1, 0] == code(ix, "layers.3.attn.q.weight", 9, 0))
        #expect(r1[2, 0] == code(ix, "layers.3.attn.k.weight", 8, 0))
        #expect(r1[4, 0] == code(ix, "layers.3.attn.v.weight", 8, 0))
        #expect(r1[6, 0] == code(ix, "layers.3.attn.q.weight", 10, 0))
        #expect(r1[23, 15] == code(ix, "layers.3.attn.v.weight", 15, 15))
        // Every element: [group, (q|k|v), head_dim] rows.
        for rank in 0..<2 {
            let m = out[ShardFile(tpRank: rank, ppRank: 0)]!["decoder.layers.0.self_attention.linear_qkv.weight"]!
            let b = out[ShardFile(tpRank: rank, ppRank: 0)]!["decoder.layers.0.self_attention.linear_qkv.bias"]!
            for l in 0..<24 {
                let head = rank * 4 + l / 6, slot = (l % 6) / 2, d = l % 2
                let name = ["layers.0.attn.q", "layers.0.attn.k", "layers.0.attn.v"][slot]
                for c in 0..<16 { #expect(m[l, c] == code(ix, name + ".weight", head * 2 + d, c)) }
                #expect(b[l, 0] == code(ix, name + ".bias", head * 2 + d, 0))
            }
        }
    }

    @Test func groupedQueryQKVKeepsWholeGroupsPerRank() throws {
        // llama: C=32, 16 heads of dim 2 in 8 groups (2 q heads per group), TP=4: each rank 2 groups
        // of [q q k v] x 2 rows = 16 rows.
        let (out, ix, _) = try shard(TinyModels.llama, tp: 4, pp: 1)
        let r2 = out[ShardFile(tpRank: 2, ppRank: 0)]!["decoder.layers.1.self_attention.linear_qkv.weight"]!
        #expect(r2.shape == [16, 32])
        #expect(r2[0, 0] == code(ix, "layers.1.attn.q.weight", 16, 0))
        #expect(r2[3, 7] == code(ix, "layers.1.attn.q.weight", 19, 7))
        #expect(r2[4, 0] == code(ix, "layers.1.attn.k.weight", 8, 0))
        #expect(r2[5, 0] == code(ix, "layers.1.attn.k.weight", 9, 0))
        #expect(r2[6, 0] == code(ix, "layers.1.attn.v.weight", 8, 0))
        #expect(r2[8, 0] == code(ix, "layers.1.attn.q.weight", 20, 0))
        #expect(r2[12, 31] == code(ix, "layers.1.attn.k.weight", 10, 31))
        #expect(r2[15, 0] == code(ix, "layers.1.attn.v.weight", 11, 0))
        for rank in 0..<4 {
            let m = out[ShardFile(tpRank: rank, ppRank: 0)]!["decoder.layers.0.self_attention.linear_qkv.weight"]!
            for l in 0..<16 {
                let g = rank * 2 + l / 8, w = l % 8
                let expected: (String, Int)
                if w < 4 {
                    expected = ("layers.0.attn.q.weight", g * 4 + w)
                } else if w < 6 {
                    expected = ("layers.0.attn.k.weight", g * 2 + w - 4)
                } else {
                    expected = ("layers.0.attn.v.weight", g * 2 + w - 6)
                }
                for c in 0..<32 { #expect(m[l, c] == code(ix, expected.0, expected.1, c)) }
            }
        }
    }

    @Test func swigluFC1HoldsGateThenUpHalvesPerRank() throws {
        // F=48, TP=4: rank r holds [gate rows 12r..<12r+12 ; up rows 12r..<12r+12].
        let (out, ix, _) = try shard(TinyModels.llama, tp: 4, pp: 1)
        let r1 = out[ShardFile(tpRank: 1, ppRank: 0)]!["decoder.layers.2.mlp.linear_fc1.weight"]!
        #expect(r1.shape == [24, 32])
        #expect(r1[0, 0] == code(ix, "layers.2.mlp.gate.weight", 12, 0))
        #expect(r1[11, 3] == code(ix, "layers.2.mlp.gate.weight", 23, 3))
        #expect(r1[12, 0] == code(ix, "layers.2.mlp.up.weight", 12, 0))
        #expect(r1[23, 31] == code(ix, "layers.2.mlp.up.weight", 23, 31))
        for rank in 0..<4 {
            let m = out[ShardFile(tpRank: rank, ppRank: 0)]!["decoder.layers.0.mlp.linear_fc1.weight"]!
            for l in 0..<24 {
                let name = l < 12 ? "layers.0.mlp.gate.weight" : "layers.0.mlp.up.weight"
                for c in 0..<32 { #expect(m[l, c] == code(ix, name, rank * 12 + l % 12, c)) }
            }
        }
    }

    @Test func rowParallelSplitsColumnsAndReplicatesBias() throws {
        let (out, ix, _) = try shard(TinyModels.gpt2, tp: 4, pp: 1)
        for rank in 0..<4 {
            let f = out[ShardFile(tpRank: rank, ppRank: 0)]!
            let proj = f["decoder.layers.0.self_attention.linear_proj.weight"]!
            #expect(proj.shape == [16, 4])
            let fc2 = f["decoder.layers.0.mlp.linear_fc2.weight"]!
            #expect(fc2.shape == [16, 8])
            for i in 0..<16 {
                for c in 0..<4 { #expect(proj[i, c] == code(ix, "layers.0.attn.out.weight", i, rank * 4 + c)) }
                for c in 0..<8 { #expect(fc2[i, c] == code(ix, "layers.0.mlp.down.weight", i, rank * 8 + c)) }
            }
            let bias = f["decoder.layers.0.mlp.linear_fc2.bias"]!
            #expect(bias.values == (0..<16).map { code(ix, "layers.0.mlp.down.bias", $0, 0) })
            let fc1 = f["decoder.layers.0.mlp.linear_fc1.bias"]!
            #expect(fc1.values == (0..<8).map { code(ix, "layers.0.mlp.up.bias", rank * 8 + $0, 0) })
        }
    }

    @Test func vocabIsPaddedWithZeroRowsAndSplit() throws {
        // V=37, divisor 4, TP=4: padded to a multiple of 16 = 48, 12 rows per rank; rank 3 holds
        // row 36 then 11 zero rows.
        let (out, ix, plan) = try shard(TinyModels.gpt2, tp: 4, pp: 1, divisor: 4)
        for rank in 0..<4 {
            let e = out[ShardFile(tpRank: rank, ppRank: 0)]!["embedding.word_embeddings.weight"]!
            #expect(e.shape == [12, 16])
            for l in 0..<12 {
                let row = rank * 12 + l
                for c in 0..<16 { #expect(e[l, c] == (row < 37 ? code(ix, "embed.tokens.weight", row, c) : 0)) }
            }
        }
        let planned = plan.files.first { $0.file == ShardFile(tpRank: 3, ppRank: 0) }!
            .tensors.first { $0.target.name == "embedding.word_embeddings.weight" }!
        #expect(planned.paddingRows == [1..<12])
    }

    @Test func pipelineStagesUseLocalLayerNumbers() throws {
        // 4 layers, PP=2: stage 1 holds canonical layers 2 and 3 as decoder.layers.0 and .1, the
        // final norm, and (tied, PP > 1) Megatron's output_layer copy of the embedding.
        let (out, ix, _) = try shard(TinyModels.gpt2, tp: 2, pp: 2, divisor: 4)
        let s1 = out[ShardFile(tpRank: 0, ppRank: 1)]!
        let s0 = out[ShardFile(tpRank: 0, ppRank: 0)]!
        #expect(s1["decoder.layers.0.input_layernorm.weight"]!.values == (0..<16).map { code(ix, "layers.2.attn_norm.weight", $0, 0) })
        #expect(s1["decoder.layers.1.input_layernorm.bias"]!.values == (0..<16).map { code(ix, "layers.3.attn_norm.bias", $0, 0) })
        #expect(s1["decoder.layers.2.input_layernorm.weight"] == nil)
        #expect(s1["decoder.final_layernorm.weight"] != nil && s0["decoder.final_layernorm.weight"] == nil)
        #expect(s0["embedding.position_embeddings.weight"] != nil && s1["embedding.position_embeddings.weight"] == nil)
        #expect(s1["output_layer.weight"] == s0["embedding.word_embeddings.weight"])
        // PP=1 and tied: no output_layer at all.
        let (single, _, _) = try shard(TinyModels.gpt2, tp: 2, pp: 1)
        #expect(single[ShardFile(tpRank: 0, ppRank: 0)]!["output_layer.weight"] == nil)
        // Untied: output_layer is the head, on the last stage.
        let (untied, uix, _) = try shard(TinyModels.gpt2Untied, tp: 2, pp: 2, divisor: 4)
        #expect(untied[ShardFile(tpRank: 1, ppRank: 1)]!["output_layer.weight"]![0, 0] == code(uix, "lm_head.weight", 20, 0))  // padded 40, 20 rows per rank
    }

    @Test(arguments: [1, 2, 4, 8], [1, 2, 4])
    func inMemoryRoundTripIsExact(tp: Int, pp: Int) throws {
        for config in TinyModels.all {
            let (wafer, _) = InMemoryShards.encodedWafer(config)
            let shape = MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)
            let sharded = InMemoryShards.apply(try planner.plan(config, from: .wafer, to: .megatron(shape)), to: wafer)
            let back = InMemoryShards.apply(try planner.plan(config, from: .megatron(shape), to: .wafer), to: sharded)
            #expect(back == wafer)
            // Direct reshard to another shape equals sharding the wafer to that shape.
            let other = MegatronShape(tp: 8 / tp, pp: 4 / pp, vocabDivisibleBy: 8)
            let direct = InMemoryShards.apply(try planner.plan(config, from: .megatron(shape), to: .megatron(other)), to: sharded)
            let viaWafer = InMemoryShards.apply(try planner.plan(config, from: .wafer, to: .megatron(other)), to: wafer)
            #expect(direct == viaWafer)
        }
    }

    @Test func replicaChecksCoverReplicatedTensorsAndTiedCopy() throws {
        let plan = try planner.plan(TinyModels.gpt2, from: .megatron(MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 4)), to: .wafer)
        let names = Set(plan.replicaChecks.map { "\($0.replica) \($0.replicaTensor)" })
        #expect(names.contains("tp1/pp0 embedding.position_embeddings.weight"))
        #expect(names.contains("tp1/pp1 decoder.final_layernorm.bias"))
        #expect(names.contains("tp1/pp0 decoder.layers.0.self_attention.linear_proj.bias"))
        #expect(names.contains("tp0/pp1 output_layer.weight"))
        #expect(!names.contains("tp0/pp0 embedding.position_embeddings.weight"))
        #expect(!names.contains { $0.contains("linear_qkv") })
        let copy = plan.replicaChecks.first { $0.replica == ShardFile(tpRank: 1, ppRank: 1) && $0.replicaTensor == "output_layer.weight" }!
        #expect(copy.reference.source == ShardFile(tpRank: 1, ppRank: 0))
        #expect(copy.reference.sourceTensor == "embedding.word_embeddings.weight")
    }

    @Test func parallelSizesMustDivideTheModel() throws {
        func reason(_ c: ModelConfig, _ tp: Int, _ pp: Int) -> ShardingError? {
            do {
                _ = try planner.plan(c, from: .wafer, to: .megatron(MegatronShape(tp: tp, pp: pp)))
                return nil
            } catch { return error }
        }
        let heads = ModelConfig(family: "gpt2", layers: 2, hidden: 12, heads: 6, ffn: 24, vocab: 10, maxSeq: 4)
        #expect(reason(heads, 4, 1) == .tensorParallelDoesNotDivide(what: "attention heads", value: 6, tp: 4))
        // Fewer KV groups than ranks is megatron-core's cut of the fused rows; groups and TP
        // that do not divide one another are refused.
        let groups = ModelConfig(family: "llama", layers: 2, hidden: 16, heads: 8, kvHeads: 2, ffn: 32, vocab: 10, maxSeq: 4)
        #expect(reason(groups, 4, 1) == nil)
        let three = ModelConfig(family: "llama", layers: 2, hidden: 24, heads: 6, kvHeads: 3, ffn: 32, vocab: 10, maxSeq: 4)
        #expect(
            reason(three, 2, 1)
                == .invalidParallelism(
                    "tensor-parallel size 2 and the 3 KV groups (kv_heads) must divide one another (megatron-core: num_query_groups a multiple or a divisor of the TP size)"
                ))
        let ffn = ModelConfig(family: "llama", layers: 2, hidden: 16, heads: 8, kvHeads: 4, ffn: 42, vocab: 10, maxSeq: 4)
        #expect(reason(ffn, 4, 1) == .tensorParallelDoesNotDivide(what: "FFN width", value: 42, tp: 4))
        let layers = ModelConfig(family: "gpt2", layers: 3, hidden: 8, heads: 4, vocab: 10, maxSeq: 4)
        #expect(reason(layers, 1, 2) == .pipelineParallelDoesNotDivideLayers(layers: 3, pp: 2))
        #expect(reason(layers, 2, 3) == nil)
        #expect(
            ShardingError.tensorParallelDoesNotDivide(what: "FFN width", value: 42, tp: 4).description
                == "tensor-parallel size 4 does not divide the FFN width (42)")
    }
}
