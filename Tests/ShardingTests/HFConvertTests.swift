import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Streaming conversions to and from the Hugging Face layout through plugged-in containers: an
/// in-memory container (no chunks) and ckpt HDF5 files holding HF names (chunked), with small
/// blocks and windows so transposed tensors cross many of both.
@Suite struct HFConvertTests {
    static let configs = [TinyModels.gpt2, TinyModels.gpt2Untied, TinyModels.llama, TinyModels.llamaBias]

    /// Model-section tensors of a file.
    static func model(_ path: String) throws -> [TensorKey: TensorData] { try Fixtures.tensors(path).filter { $0.key.isModel } }

    @Test(arguments: ["memory", "ckpt"], [DType.float32, .bfloat16])
    func waferToHFToWaferIsBitExact(container: String, dtype: DType) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let converter = try Converter(options: ConvertOptions(blockBytes: 300, cacheBytes: 1 << 16), formats: store.registry())
        for config in Self.configs {
            let wafer = "\(dir)/\(config.family)-\(config.tieEmbeddings)-\(config.bias).h5"
            try Fixtures.writeWafer(config, dtype: dtype, path: wafer, chunkBytes: 256)
            let hf = container == "memory" ? "memory:/\(wafer).hf" : wafer + ".hf.h5"
            let there = try converter.convert(wafer, to: .hf, container: container, output: hf)
            #expect(there.outputLayout == "hf" && there.outputFormat == container)
            #expect(there.droppedSections == ["optimizer/exp_avg", "optimizer/exp_avg_sq"] + (dtype == .float32 ? [] : ["optimizer/master"]))
            #expect(there.notes == ["optimizer state dropped: HF checkpoints hold none"])
            #expect(there.tensors == (try LayoutInterpreter().map(config, .hf)).allTensors.filter { !$0.isOptional }.count)
            let back = wafer + ".back.h5"
            let report = try converter.convert(hf, to: .wafer, output: back)
            #expect(report.sourceLayout == "hf" && report.droppedSections.isEmpty)
            #expect(try Self.model(back) == Self.model(wafer), "\(config.family) \(dtype) via \(container)")
            #expect(try Fixtures.tensors(back).keys.allSatisfy { $0.isModel }, "the HF copy held no optimizer state")
            #expect(try CheckpointReader(path: back).metadata.modelConfig == config)
        }
    }

    @Test func hfFilesHoldTheHFNamesAndTransposedBytes() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: wafer, chunkBytes: 256)
        _ = try Converter(options: ConvertOptions(blockBytes: 200), formats: store.registry()).convert(wafer, to: .hf, container: "memory", output: "memory:/g")
        let c = try #require(store.get("memory:/g")?.container)
        #expect(c.describe(.model("transformer.h.0.mlp.c_fc.weight"))?.shape == [16, 32])
        #expect(c.tensors.count == 2 + 4 * 12 + 2)
        #expect(store.get("memory:/g")?.metadata.layoutJSON == #"{"kind":"hf"}"#)
        // c_fc.weight is up.weight transposed, byte for byte.
        let up = try CheckpointReader(path: wafer).read(.model("layers.0.mlp.up.weight")).floats()  // [32, 16]
        let fc = try c.readAll(.model("transformer.h.0.mlp.c_fc.weight"))
        let fcFloats = TensorData(dtype: .float32, shape: [16, 32], bytes: fc).floats()
        for a in 0..<16 { for b in 0..<32 { #expect(fcFloats[a * 32 + b].bitPattern == up[b * 16 + a].bitPattern) } }
        // Q's rows are c_attn's first 16 columns.
        let q = try CheckpointReader(path: wafer).read(.model("layers.0.attn.q.weight")).floats()
        let attn = TensorData(dtype: .float32, shape: [16, 48], bytes: try c.readAll(.model("transformer.h.0.attn.c_attn.weight"))).floats()
        for a in 0..<16 { for b in 0..<16 { #expect(attn[a * 48 + b].bitPattern == q[b * 16 + a].bitPattern) } }
    }

    @Test(arguments: [(1, 1, 2, 2), (2, 2, 4, 1), (8, 4, 1, 1), (4, 1, 2, 4)])
    func megatronToHFToMegatronIsBitExact(fromTP: Int, fromPP: Int, toTP: Int, toPP: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let converter = try Converter(options: ConvertOptions(blockBytes: 500, cacheBytes: 1 << 17), formats: store.registry())
        for config in [TinyModels.gpt2, TinyModels.llama] {
            let base = "\(dir)/\(config.family)"
            try Fixtures.writeWafer(config, dtype: .bfloat16, path: base + ".h5", chunkBytes: 256)
            let from = MegatronShape(tp: fromTP, pp: fromPP, vocabDivisibleBy: 4)
            let to = MegatronShape(tp: toTP, pp: toPP, vocabDivisibleBy: 8)
            _ = try converter.convert(base + ".h5", to: .megatron(from), output: base + "-from")
            _ = try converter.convert(base + "-from", to: .hf, container: "memory", output: "memory:" + base)
            // Direct HF output equals the HF output of the wafer.
            _ = try converter.convert(base + ".h5", to: .hf, container: "memory", output: "memory:" + base + "-wafer")
            let a = try #require(store.get("memory:" + base)?.container), b = try #require(store.get("memory:" + base + "-wafer")?.container)
            #expect(a.tensors == b.tensors && a.bytes == b.bytes)
            _ = try converter.convert("memory:" + base, to: .megatron(to), output: base + "-to")
            _ = try converter.convert(base + ".h5", to: .megatron(to), output: base + "-via")
            for f in to.files {
                let x = try Self.model(Fixtures.rankPath(base + "-to", to, tp: f.tpRank, pp: f.ppRank))
                let y = try Self.model(Fixtures.rankPath(base + "-via", to, tp: f.tpRank, pp: f.ppRank))
                #expect(x == y, "\(config.family) \(f)")
            }
        }
    }

    /// Transposed tensors are decoded once too: their whole source stays cached while the output
    /// tensor is written, so splitting to HF and merging back decode the model bytes once.
    @Test(arguments: [TinyModels.gpt2, TinyModels.llama])
    func eachSourceChunkIsDecodedOnce(_ config: ModelConfig) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let converter = try Converter(options: ConvertOptions(blockBytes: 256), formats: store.registry())
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(config, dtype: .float32, path: wafer, chunkBytes: 256)
        let modelBytes = Int64(try Self.model(wafer).values.reduce(0) { $0 + $1.bytes.count })
        let there = try converter.convert(wafer, to: .hf, container: "ckpt", output: dir + "/hf.h5")
        #expect(there.bytes == modelBytes && there.sourceBytesDecoded == modelBytes)
        let back = try converter.convert(dir + "/hf.h5", to: .wafer, output: dir + "/back.h5")
        #expect(back.bytes == modelBytes && back.sourceBytesDecoded == modelBytes)
        #expect(try CheckpointReader(path: dir + "/hf.h5").metadata.layoutKind == "hf")
    }

    /// `torch.save(model.state_dict())` of a tied model keeps `lm_head.weight`: accepted when it
    /// equals the embedding, refused (like any replica) when it differs.
    @Test func tiedHeadInASourceIsCheckedLikeAReplica() throws {
        let f = try HFMemoryFixture(hfPath: "memory:/g")
        defer { f.remove() }
        let (dir, store, converter, wafer) = (f.dir, f.store, f.converter, f.wafer)
        let g = try #require(store.get("memory:/g"))
        #expect(g.container.describe(.model("lm_head.weight")) == nil, "never written")
        let wte = g.container.bytes[.model("transformer.wte.weight")]!
        let head = ContainerTensor(key: .model("lm_head.weight"), dtype: .float32, shape: [37, 16])
        let all = g.container.tensors.map { ($0, g.container.bytes[$0.key]!) }
        store.put("memory:/same", MemoryContainer(path: "memory:/same", tensors: all + [(head, wte)]), metadata: g.metadata)
        _ = try converter.convert("memory:/same", to: .wafer, output: dir + "/same.h5")
        #expect(try Self.model(dir + "/same.h5") == Self.model(wafer))
        var other = wte
        other[5] ^= 0x40
        store.put("memory:/other", MemoryContainer(path: "memory:/other", tensors: all + [(head, other)]), metadata: g.metadata)
        #expect(throws: ShardingError.self) { _ = try converter.convert("memory:/other", to: .wafer, output: dir + "/other.h5") }
        let report = try Converter(options: ConvertOptions(allowDivergentReplicas: true), formats: store.registry())
            .convert("memory:/other", to: .wafer, output: dir + "/kept.h5")
        #expect(report.divergentReplicas.map(\.tensor) == ["lm_head.weight"])
        #expect(try Self.model(dir + "/kept.h5") == Self.model(wafer), "the embedding (primary) is kept")
    }

    /// Old GPT-2 hub files: unprefixed names and causal-mask buffers.
    @Test func oldGPT2NamesAreReadAndMaskBuffersSkipped() throws {
        let f = try HFMemoryFixture(hfPath: "memory:/new")
        defer { f.remove() }
        let (dir, store, converter, wafer) = (f.dir, f.store, f.converter, f.wafer)
        let new = try #require(store.get("memory:/new"))
        var old = new.container.tensors.map { t -> (ContainerTensor, [UInt8]) in
            var u = t
            u.key.name = String(t.key.name.dropFirst(t.key.name.hasPrefix("transformer.") ? "transformer.".count : 0))
            return (u, new.container.bytes[t.key]!)
        }
        old.append((ContainerTensor(key: .model("h.0.attn.bias"), dtype: .float32, shape: [1, 1, 8, 8]), [UInt8](repeating: 0, count: 256)))
        #expect(old.contains { $0.0.key.name == "wte.weight" })
        store.put("memory:/old", MemoryContainer(path: "memory:/old", tensors: old), metadata: new.metadata)
        let report = try converter.convert("memory:/old", to: .wafer, output: dir + "/old.h5")
        #expect(report.notes.contains { $0.hasPrefix("ignored 1 source tensor(s) the hf layout does not carry: h.0.attn.bias") })
        #expect(try Self.model(dir + "/old.h5") == Self.model(wafer))
        // Both spellings of one tensor in one file are refused.
        store.put(
            "memory:/both",
            MemoryContainer(path: "memory:/both", tensors: old + [(new.container.tensors[0], new.container.bytes[new.container.tensors[0].key]!)]),
            metadata: new.metadata)
        #expect(throws: ShardingError.duplicateTensor(path: "memory:/both", tensor: "wte.weight", other: "transformer.wte.weight")) {
            _ = try converter.convert("memory:/both", to: .wafer, output: dir + "/both.h5")
        }
    }

    @Test func hfSourceMissingATensorIsRefusedBeforeWriting() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let converter = try Converter(formats: store.registry())
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.llama, dtype: .float32, path: wafer)
        _ = try converter.convert(wafer, to: .hf, container: "memory", output: "memory:/l")
        let l = try #require(store.get("memory:/l"))
        let kept = l.container.tensors.filter { $0.key.name != "model.layers.1.self_attn.k_proj.weight" }.map { ($0, l.container.bytes[$0.key]!) }
        store.put("memory:/broken", MemoryContainer(path: "memory:/broken", tensors: kept), metadata: l.metadata)
        #expect(throws: ShardingError.missingTensor(path: "memory:/broken", tensor: "model.layers.1.self_attn.k_proj.weight")) {
            _ = try converter.convert("memory:/broken", to: .wafer, output: dir + "/x.h5")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.h5"))
    }
}
