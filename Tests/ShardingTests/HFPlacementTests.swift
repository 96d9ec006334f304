import CheckpointStore
import Containers
import Testing

@testable import Sharding

/// Pins the Hugging Face placement with element-encoded values: every element encodes (tensor,
/// row, column) of its canonical tensor, and the tests assert where it lands after the
/// transposes and the `c_attn` fusion.
@Suite struct HFPlacementTests {
    let planner: ReshardPlanner
    init() throws { planner = try ReshardPlanner() }

    func toHF(_ config: ModelConfig) throws -> (out: [String: Matrix], index: [String: Int], plan: ReshardPlan) {
        let (wafer, index) = InMemoryShards.encodedWafer(config)
        let plan = try planner.plan(config, from: .wafer, to: .hf)
        return (InMemoryShards.apply(plan, to: wafer)[.wafer]!, index, plan)
    }

    func code(_ index: [String: Int], _ name: String, _ row: Int, _ col: Int) -> Float { InMemoryShards.code(index[name]!, row, col) }

    @Test func cAttnIsTransposedQKVAlongTheOutputAxis() throws {
        // C=16: c_attn.weight is [16, 48]; element (in a, out b) is the fused [Q; K; V] row b, column a.
        let (out, ix, plan) = try toHF(TinyModels.gpt2)
        let w = out["transformer.h.2.attn.c_attn.weight"]!
        #expect(w.shape == [16, 48])
        #expect(w[0, 0] == code(ix, "layers.2.attn.q.weight", 0, 0))
        #expect(w[3, 5] == code(ix, "layers.2.attn.q.weight", 5, 3))
        #expect(w[3, 21] == code(ix, "layers.2.attn.k.weight", 5, 3))
        #expect(w[15, 47] == code(ix, "layers.2.attn.v.weight", 15, 15))
        for a in 0..<16 {
            for b in 0..<48 {
                let part = ["layers.2.attn.q.weight", "layers.2.attn.k.weight", "layers.2.attn.v.weight"][b / 16]
                #expect(w[a, b] == code(ix, part, b % 16, a))
            }
        }
        let bias = out["transformer.h.2.attn.c_attn.bias"]!
        #expect(bias.values == (0..<48).map { code(ix, ["layers.2.attn.q.bias", "layers.2.attn.k.bias", "layers.2.attn.v.bias"][$0 / 16], $0 % 16, 0) })
        // The plan's pieces: N-d boxes with the transpose recorded, not a special case.
        let planned = plan.files[0].tensors.first { $0.target.name == "transformer.h.2.attn.c_attn.weight" }!
        #expect(planned.pieces.count == 3)
        let k = planned.pieces.first { $0.sourceTensor == "layers.2.attn.k.weight" }!
        #expect(k.transposed)
        #expect(k.sourceBox == TensorBox(offsets: [0, 0], sizes: [16, 16]))
        #expect(k.destBox == TensorBox(offsets: [0, 16], sizes: [16, 16]))
    }

    @Test func conv1DWeightsAreTransposedAndVocabIsUnpadded() throws {
        let (out, ix, _) = try toHF(TinyModels.gpt2)
        let fc = out["transformer.h.1.mlp.c_fc.weight"]!, proj = out["transformer.h.1.mlp.c_proj.weight"]!
        let attnProj = out["transformer.h.1.attn.c_proj.weight"]!
        #expect(fc.shape == [16, 32] && proj.shape == [32, 16])
        for a in 0..<16 {
            for b in 0..<32 {
                #expect(fc[a, b] == code(ix, "layers.1.mlp.up.weight", b, a))
                #expect(proj[b, a] == code(ix, "layers.1.mlp.down.weight", a, b))
            }
            for b in 0..<16 { #expect(attnProj[a, b] == code(ix, "layers.1.attn.out.weight", b, a)) }
        }
        let wte = out["transformer.wte.weight"]!
        #expect(wte.shape == [37, 16])
        #expect(wte[36, 15] == code(ix, "embed.tokens.weight", 36, 15))
        #expect(out["transformer.h.1.mlp.c_fc.bias"]!.values == (0..<32).map { code(ix, "layers.1.mlp.up.bias", $0, 0) })
    }

    @Test func llamaTensorsAreCanonicalUnderHFNames() throws {
        let (out, ix, plan) = try toHF(TinyModels.llama)
        #expect(plan.files[0].tensors.allSatisfy { $0.pieces.count == 1 && !$0.pieces[0].transposed })
        let k = out["model.layers.3.self_attn.k_proj.weight"]!
        #expect(k.shape == [16, 32])
        for r in 0..<16 { for c in 0..<32 { #expect(k[r, c] == code(ix, "layers.3.attn.k.weight", r, c)) } }
        #expect(out["lm_head.weight"]![36, 31] == code(ix, "lm_head.weight", 36, 31))
        #expect(out["model.layers.0.mlp.gate_proj.weight"]![47, 0] == code(ix, "layers.0.mlp.gate.weight", 47, 0))
    }

    @Test(arguments: [(1, 1), (2, 2), (4, 1), (8, 4)])
    func megatronToHFEqualsWaferToHFAndBack(tp: Int, pp: Int) throws {
        for config in [TinyModels.gpt2, TinyModels.gpt2Untied, TinyModels.llama, TinyModels.llamaBias] {
            let (wafer, _) = InMemoryShards.encodedWafer(config)
            let shape = MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)
            let mega = InMemoryShards.apply(try planner.plan(config, from: .wafer, to: .megatron(shape)), to: wafer)
            let viaWafer = InMemoryShards.apply(try planner.plan(config, from: .wafer, to: .hf), to: wafer)
            let direct = InMemoryShards.apply(try planner.plan(config, from: .megatron(shape), to: .hf), to: mega)
            #expect(direct == viaWafer, "\(config.family) tp\(tp) pp\(pp)")
            // And back: hf -> megatron equals wafer -> megatron; hf -> wafer is the wafer.
            #expect(InMemoryShards.apply(try planner.plan(config, from: .hf, to: .megatron(shape)), to: direct) == mega)
            #expect(InMemoryShards.apply(try planner.plan(config, from: .hf, to: .wafer), to: direct) == wafer)
        }
    }
}
