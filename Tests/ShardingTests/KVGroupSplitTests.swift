import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// More tensor-parallel ranks than KV groups (megatron-core: `num_query_groups < TP`). The
/// fused `linear_qkv` is one ColumnParallelLinear over the whole `[groups, heads/groups + 2,
/// head_dim]` rows, cut into TP contiguous pieces (`attention.py` all-gathers them at run time;
/// nothing is replicated): checked against the checkpoints Megatron-LM wrote at TP 4 with 2
/// groups (legacy torch and torch_dist) and by round trips through every Megatron target.
@Suite struct KVGroupSplitTests {
    let io = InteropConvertTests()
    /// 8 heads of 4 in 2 KV groups, SwiGLU: the fixtures' shape.
    static let llama = ModelConfig(family: "llama", layers: 2, hidden: 32, heads: 8, kvHeads: 2, ffn: 48, vocab: 37, maxSeq: 8)
    static let tp4 = MegatronShape(tp: 4, pp: 1)

    @Test func linearQKVRowsAreCutContiguouslyAsMegatronCoreDoes() throws {
        let map = try LayoutInterpreter().map(Self.llama, .megatron(Self.tp4))
        // Group g's rows: q of heads 4g..4g+3 (16 rows), k_g (4), v_g (4); 48 rows, 12 per rank.
        typealias Piece = (part: String, rows: Range<Int>, local: Int)
        let want: [[Piece]] = [
            [("q", 0..<12, 0)],
            [("q", 12..<16, 0), ("k", 0..<4, 4), ("v", 0..<4, 8)],
            [("q", 16..<28, 0)],
            [("q", 28..<32, 0), ("k", 4..<8, 4), ("v", 4..<8, 8)],
        ]
        for r in 0..<4 {
            let t = try #require(
                map.tensors(in: ShardFile(tpRank: r, ppRank: 0)).first { $0.name == "decoder.layers.1.self_attention.linear_qkv.weight" })
            #expect(t.shape == [12, 32] && t.isPrimary)
            let got = t.segments.map { s in
                (s.canonical, s.canonicalBox.offsets[0]..<s.canonicalBox.offsets[0] + s.canonicalBox.sizes[0], s.localOffsets[0])
            }
            #expect(got.count == want[r].count, "rank \(r): \(got)")
            for (g, w) in zip(got, want[r]) {
                #expect(g.0 == "layers.1.attn.\(w.part).weight" && g.1 == w.rows && g.2 == w.local, "rank \(r): \(g)")
            }
        }
        // The output projection takes the matching heads: 2 of 8 per rank, contiguous.
        let proj = try #require(
            map.tensors(in: ShardFile(tpRank: 3, ppRank: 0)).first { $0.name == "decoder.layers.0.self_attention.linear_proj.weight" })
        #expect(proj.segments.first?.canonicalBox == TensorBox(offsets: [0, 24], sizes: [32, 8]))
    }

    @Test func shapesMegatronCoreRefusesAreRefused() {
        func problem(_ c: ModelConfig, _ tp: Int) -> ShardingError? {
            do throws(ShardingError) {
                try MegatronShape(tp: tp, pp: 1).validate(c)
                return nil
            } catch { return error }
        }
        #expect(problem(Self.llama, 4) == nil && problem(Self.llama, 8) == nil)
        let three = ModelConfig(family: "llama", layers: 2, hidden: 24, heads: 6, kvHeads: 3, ffn: 48, vocab: 37, maxSeq: 8)
        #expect(
            problem(three, 2)
                == .invalidParallelism(
                    "tensor-parallel size 2 and the 3 KV groups (kv_heads) must divide one another (megatron-core: num_query_groups a multiple or a divisor of the TP size)"
                ))
        // One group of 4 heads of 2 over TP 4: (4 + 2) x 2 = 12 fused rows, 3 per rank (allowed);
        // of 4 heads of 1 (learned positions: no rotary pairs to form) over TP 4: 6 rows, not
        // divisible by 4.
        let one = ModelConfig(family: "llama", layers: 1, hidden: 8, heads: 4, kvHeads: 1, ffn: 8, vocab: 8, maxSeq: 4)
        #expect(problem(one, 4) == nil)
        let tiny = ModelConfig(family: "gpt2", layers: 1, hidden: 4, heads: 4, kvHeads: 1, ffn: 8, vocab: 8, maxSeq: 4)
        #expect(problem(tiny, 4) == .tensorParallelDoesNotDivide(what: "fused QKV rows ((heads + 2 x kv_heads) x head_dim)", value: 6, tp: 4))
    }

    @Test(arguments: ["megatron-llama-tp4-g2", "megatron-dist-llama-tp4-g2"])
    func megatronLMCheckpointsImportToWhatTheRunHeld(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try io.convert(InteropFixtures.root + "/" + name, to: .wafer, dir + "/w.h5")
        let (got, _) = try MissionRecords.read(dir + "/w.h5")
        let want = try MissionRecords.megatron(name)
        #expect(want.records.count == 84)
        #expect(got == want)
    }

    @Test func megatronTorchTP4ThroughWaferIsTheSourceRankFiles() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-llama-tp4-g2"
        // Padded vocabulary 128 (divisible by 8 x TP 4); the trained padding rows are kept.
        _ = try io.convert(src, to: .wafer, dir + "/w.h5", vocab: 128)
        let shape = MegatronShape(tp: 4, pp: 1, vocabDivisibleBy: 8)
        _ = try io.convert(dir + "/w.h5", to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        let a = try io.tensors(src, vocab: 128), b = try io.tensors(dir + "/meg", vocab: 128)
        #expect(io.differences(a, b) == [])
        #expect(a.keys.filter { $0.contains("linear_qkv") }.count == 4 * 2 * 4)
    }

    @Test func torchDistTP4ReshardsDirectlyAndBack() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-dist-llama-tp4-g2"
        // TP 4 -> TP 2 (whole groups per rank) -> TP 4 again, optimizer state included.
        _ = try io.convert(src, to: .megatron(MegatronShape(tp: 2, pp: 1)), container: MegatronDistFormats.containerFormat, dir + "/tp2")
        _ = try io.convert(dir + "/tp2", to: .megatron(Self.tp4), container: MegatronDistFormats.containerFormat, dir + "/tp4")
        let want = try io.canonical(src, modelOnly: false)
        #expect(try io.canonical(dir + "/tp2", modelOnly: false) == want)
        #expect(try io.canonical(dir + "/tp4", modelOnly: false) == want)
        #expect(want.keys.filter { !$0.isModel }.count == 63)
    }

    /// A synthetic LLaMA with Adam state through each Megatron target at TP 4 (and a direct
    /// reshard TP 4 -> TP 8 -> TP 2) and back: bit-exact.
    @Test(arguments: ["ckpt", MegatronTorchFormats.containerFormat, MegatronDistFormats.containerFormat])
    func roundTripsBitExact(container: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(Self.llama, dtype: .bfloat16, path: dir + "/w.h5")
        _ = try io.convert(dir + "/w.h5", to: .megatron(Self.tp4), container: container, dir + "/tp4")
        _ = try io.convert(dir + "/tp4", to: .megatron(MegatronShape(tp: 8, pp: 1)), container: container, dir + "/tp8")
        _ = try io.convert(dir + "/tp8", to: .megatron(MegatronShape(tp: 2, pp: 1)), container: container, dir + "/tp2")
        for d in ["tp4", "tp8", "tp2"] {
            _ = try io.convert(dir + "/" + d, to: .wafer, dir + "/\(d).h5")
            let a = try Fixtures.tensors(dir + "/w.h5"), b = try Fixtures.tensors(dir + "/\(d).h5")
            #expect(a == b, "\(container) \(d)")
        }
    }

    @Test func divergentReplicaAtTP4IsNamed() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(Self.llama, dtype: .float32, path: dir + "/w.h5")
        let mega = dir + "/mega"
        _ = try io.convert(dir + "/w.h5", to: .megatron(Self.tp4), mega)
        let victim = Fixtures.rankPath(mega, Self.tp4, tp: 3, pp: 0)
        let key = TensorKey.model("decoder.layers.1.input_layernorm.weight")
        let original = try CheckpointReader(path: victim).read(key).floats()
        try Fixtures.rewrite(victim) { _, t in
            var v = original
            v[5] += 0.25
            t[key] = TensorData(shape: [32], floats: v)
        }
        do {
            _ = try io.convert(mega, to: .wafer, dir + "/out.h5")
            Issue.record("divergent replica accepted")
        } catch {
            guard let e = error as? ShardingError, case .divergentReplica(let path, let tensor, let reference, _) = e else {
                Issue.record("got \(error)")
                return
            }
            #expect(path == victim && tensor == key.name && reference.contains("mp_rank_00"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.h5"))
    }
}
