import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// Streaming conversions on tiny checkpoints: bit-exact round trips and direct reshards.
@Suite struct ConvertRoundTripTests {
    static let cases: [(String, DType)] = [("gpt2", .float32), ("gpt2", .bfloat16), ("llama", .float32), ("llama", .bfloat16)]

    func config(_ family: String) -> ModelConfig { family == "gpt2" ? TinyModels.gpt2 : TinyModels.llama }

    @Test(arguments: [1, 2, 4, 8], [1, 2, 4])
    func waferToMegatronToWaferIsBitExact(tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converter = try Converter(options: ConvertOptions(blockBytes: 1000))
        for (family, dtype) in Self.cases {
            let wafer = "\(dir)/\(family)-\(dtype).h5"
            try Fixtures.writeWafer(config(family), dtype: dtype, path: wafer)
            let shape = MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)
            let mega = "\(dir)/\(family)-\(dtype)-mega"
            let report = try converter.convert(wafer, to: .megatron(shape), output: mega)
            #expect(report.files == tp * pp)
            #expect(try String(contentsOfFile: mega + "/latest_checkpointed_iteration.txt", encoding: .utf8) == "1234\n")
            let back = "\(dir)/\(family)-\(dtype)-back.h5"
            _ = try converter.convert(mega, to: .wafer, output: back)
            let a = try Fixtures.tensors(wafer), b = try Fixtures.tensors(back)
            #expect(a.keys.sorted() == b.keys.sorted())
            for (k, v) in a { #expect(b[k] == v, "\(family) \(dtype) tp\(tp) pp\(pp) \(k)") }
            let ma = try CheckpointReader(path: wafer).metadata, mb = try CheckpointReader(path: back).metadata
            #expect(ma == mb)
            // Every rank carries step, config, optimizer and RNG.
            let rank = try CheckpointReader(path: Fixtures.rankPath(mega, shape, tp: tp - 1, pp: pp - 1))
            #expect(rank.metadata.step == 1234 && rank.metadata.modelConfig == ma.modelConfig)
            #expect(rank.metadata.optimizer == ma.optimizer && rank.metadata.rng == ma.rng)
            let layout = try MegatronRankLayout.parse(rank.metadata.layoutJSON, path: rank.path)
            #expect(layout.tpRank == tp - 1 && layout.ppRank == pp - 1 && layout.paddedVocab == shape.paddedVocab(37))
        }
    }

    /// megatron-core fuses a SwiGLU fc1 bias as [gate; up] like the weight, so a llama-shaped
    /// model with biases (`mlp.gate.bias` included) splits and merges bit for bit.
    @Test(arguments: [(1, 1), (2, 2), (4, 1), (8, 4)])
    func llamaWithBiasesRoundTripsBitExact(tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converter = try Converter(options: ConvertOptions(blockBytes: 1000))
        for config in [TinyModels.llamaBias, TinyModels.llamaLayerNormBias] {
            #expect(config.canonicalTensors().contains { $0.name == "layers.3.mlp.gate.bias" })
            let wafer = "\(dir)/\(config.norm).h5", mega = "\(dir)/\(config.norm)-mega", back = "\(dir)/\(config.norm)-back.h5"
            try Fixtures.writeWafer(config, dtype: .bfloat16, path: wafer)
            let shape = MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)
            _ = try converter.convert(wafer, to: .megatron(shape), output: mega)
            let rank = try CheckpointReader(path: Fixtures.rankPath(mega, shape, tp: 0, pp: pp - 1))
            let fc1 = try #require(rank.tensors.first { $0.key == .model("decoder.layers.0.mlp.linear_fc1.bias") })
            #expect(fc1.shape == [2 * 48 / tp])
            _ = try converter.convert(mega, to: .wafer, output: back)
            let a = try Fixtures.tensors(wafer), b = try Fixtures.tensors(back)
            #expect(a.keys.sorted() == b.keys.sorted())
            for (k, v) in a { #expect(b[k] == v, "\(config.norm) tp\(tp) pp\(pp) \(k)") }
        }
    }

    @Test(arguments: [(4, 2, 2, 4), (2, 1, 8, 2), (1, 4, 4, 1), (8, 4, 1, 1)])
    func directReshardEqualsWaferToTarget(fromTP: Int, fromPP: Int, toTP: Int, toPP: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converter = try Converter(options: ConvertOptions(blockBytes: 1500))
        for (family, dtype) in Self.cases {
            let wafer = "\(dir)/\(family)-\(dtype).h5"
            try Fixtures.writeWafer(config(family), dtype: dtype, path: wafer)
            let from = MegatronShape(tp: fromTP, pp: fromPP, vocabDivisibleBy: 4)
            let to = MegatronShape(tp: toTP, pp: toPP, vocabDivisibleBy: 8)
            _ = try converter.convert(wafer, to: .megatron(from), output: "\(dir)/\(family)-\(dtype)-from")
            _ = try converter.convert("\(dir)/\(family)-\(dtype)-from", to: .megatron(to), output: "\(dir)/\(family)-\(dtype)-direct")
            _ = try converter.convert(wafer, to: .megatron(to), output: "\(dir)/\(family)-\(dtype)-via")
            for f in to.files {
                let d = try Fixtures.tensors(Fixtures.rankPath("\(dir)/\(family)-\(dtype)-direct", to, tp: f.tpRank, pp: f.ppRank))
                let v = try Fixtures.tensors(Fixtures.rankPath("\(dir)/\(family)-\(dtype)-via", to, tp: f.tpRank, pp: f.ppRank))
                #expect(d == v, "\(family) \(dtype) \(f)")
            }
        }
    }

    @Test func paddingRowsAreZeroWhenCreatedAndDroppedWhenMerged() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converter = try Converter()
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2Untied, dtype: .float32, path: wafer)
        // V=37, divisor 4, TP=4: padded 48, 12 rows per rank; rank 3 holds row 36 and 11 padding rows.
        let shape = MegatronShape(tp: 4, pp: 2, vocabDivisibleBy: 4)
        _ = try converter.convert(wafer, to: .megatron(shape), output: dir + "/m")
        let original = try CheckpointReader(path: wafer)
        for (name, pp) in [("embedding.word_embeddings.weight", 0), ("output_layer.weight", 1)] {
            let rank3 = try CheckpointReader(path: Fixtures.rankPath(dir + "/m", shape, tp: 3, pp: pp))
            for section in ["model", "optimizer/exp_avg", "optimizer/exp_avg_sq"] {
                let local = try rank3.read(TensorKey(section: section, name: name))
                #expect(local.shape == [12, 16])
                #expect(local.bytes[(16 * 4)...].allSatisfy { $0 == 0 })
                let canonical = name == "output_layer.weight" ? "lm_head.weight" : "embed.tokens.weight"
                #expect(Array(local.bytes[0..<64]) == (try original.read(TensorKey(section: section, name: canonical), rows: 36..<37)).bytes)
            }
        }
        // Megatron's padding rows hold trained values in practice: they are dropped, not checked.
        try Fixtures.rewrite(Fixtures.rankPath(dir + "/m", shape, tp: 3, pp: 0)) { _, t in
            let key = TensorKey.model("embedding.word_embeddings.weight")
            var d = t[key]!
            for i in 64..<d.bytes.count { d.bytes[i] = 0x3F }
            t[key] = d
        }
        _ = try converter.convert(dir + "/m", to: .wafer, output: dir + "/back.h5")
        #expect(try Fixtures.tensors(dir + "/back.h5") == Fixtures.tensors(wafer))
    }
}
