import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Conversions between the formats real libraries wrote (Tests/Fixtures/interop): transformers
/// `save_pretrained`, `torch.save(state_dict)` and Megatron-LM `save_checkpoint`, through ckpt's
/// wafer file and directly. "Bit-exact" is checked tensor by tensor on the bytes.
@Suite struct InteropConvertTests {
    func convert(
        _ source: String, to layout: CheckpointLayout, container: String? = nil, _ out: String, vocab: Int? = nil,
        maxShardBytes: Int = HFDirectoryWriter.defaultMaxShardBytes
    ) throws -> ConversionReport {
        var options = ConvertOptions()
        options.writer.threads = 2
        let converter = try Converter(options: options, formats: .all(maxShardBytes: maxShardBytes, vocab: vocab))
        return try converter.convert(source, to: layout, container: container, output: out)
    }

    /// Opens `path` with every format and lists (stored key → bytes) of its containers.
    func tensors(_ path: String, vocab: Int? = nil) throws -> [String: [UInt8]] {
        let s = try CheckpointSource(path: path, formats: .all(vocab: vocab))
        var out: [String: [UInt8]] = [:]
        for f in s.layout.files {
            let c = try s.container(f)
            for t in c.tensors { out["\(f) \(t.key)"] = try c.readAll(t.key) }
        }
        return out
    }

    /// The canonical tensors of `path` (any format), by canonical key.
    func canonical(_ path: String, vocab: Int? = nil, modelOnly: Bool = true) throws -> [TensorKey: [UInt8]] {
        let view = try CanonicalView(source: CheckpointSource(path: path, formats: .all(vocab: vocab)))
        var out: [TensorKey: [UInt8]] = [:]
        for t in view.tensors where !modelOnly || t.key.isModel { out[t.key] = try view.readAll(t.key) }
        return out
    }

    func differences(_ a: [String: [UInt8]], _ b: [String: [UInt8]]) -> [String] {
        var d: [String] = []
        for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
            d.append(a[k] == nil ? "only in the output: \(k)" : b[k] == nil ? "missing: \(k)" : "bytes differ: \(k)")
        }
        return d
    }

    @Test(arguments: ["hf-gpt2", "hf-gpt2-sharded", "hf-llama", "hf-llama-sharded"])
    func huggingFaceThroughWaferIsBitExact(_ name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        _ = try convert(src, to: .wafer, dir + "/w.h5")
        let report = try convert(dir + "/w.h5", to: .hf, dir + "/hf", maxShardBytes: 40_000)
        #expect(report.droppedSections.isEmpty)
        // Stored names and bytes: the files, not only the canonical tensors, are the same.
        let a = try tensors(src), b = try tensors(dir + "/hf")
        #expect(differences(a, b) == [])
        #expect(a.count >= 21)
    }

    @Test(arguments: ["hf-gpt2-sharded", "hf-llama"])
    func huggingFaceThroughMegatronTorchIsBitExact(_ name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        // ckpt records the unpadded vocabulary in the args it writes, so no --vocab is needed back.
        _ = try convert(src, to: .megatron(MegatronShape(tp: 2, pp: 2)), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        #expect((try? String(contentsOfFile: dir + "/meg/latest_checkpointed_iteration.txt", encoding: .utf8)) == "release\n")
        _ = try convert(dir + "/meg", to: .hf, dir + "/hf")
        #expect(differences(try tensors(src), try tensors(dir + "/hf")) == [])
    }

    @Test func pytorchModelBinImportsLikeItsSafetensorsTwin() throws {
        // The same GPT-2 saved by torch.save(state_dict) and by save_pretrained.
        let a = try canonical(InteropFixtures.root + "/pytorch-gpt2"), b = try canonical(InteropFixtures.root + "/hf-gpt2")
        #expect(a.count == 36)
        #expect(a == b)
    }

    @Test func megatronTorchThroughWaferEqualsTheSourceRankFiles() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-llama-tp2pp2"
        // The padding rows of a trained embedding are not zero: keep them (vocab = padded size).
        _ = try convert(src, to: .wafer, dir + "/w.h5", vocab: 112)
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        _ = try convert(dir + "/w.h5", to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        let a = try tensors(src, vocab: 112), b = try tensors(dir + "/meg", vocab: 112)
        #expect(differences(a, b) == [])
        #expect(a.keys.filter { $0.contains("optimizer.exp_avg_sq.") }.count == 54)
        #expect(FileManager.default.fileExists(atPath: dir + "/meg/iter_0000002/mp_rank_01_001/model_optim_rng.pt"))
        #expect((try? String(contentsOfFile: dir + "/meg/latest_checkpointed_iteration.txt", encoding: .utf8)) == "2\n")
    }

    @Test func distributedOptimizerStateReshardsToTheNonDistributedForm() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-gpt2-tp2pp2-dp2"
        let shape = MegatronShape(tp: 1, pp: 2, vocabDivisibleBy: 8)
        _ = try convert(src, to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg", vocab: 112)
        // Every canonical tensor, optimizer state included, survives the TP merge.
        let a = try canonical(src, vocab: 112, modelOnly: false), b = try canonical(dir + "/meg", vocab: 112, modelOnly: false)
        #expect(a.keys.filter { $0.optimizerState == "master" }.count > 20)
        #expect(a == b)
    }

    @Test(arguments: [("megatron-gpt2-tp2pp2-dp2", "hf-gpt2"), ("megatron-llama-tp2pp2", "hf-llama")])
    func megatronToHuggingFaceAndBack(_ megatron: String, _ hfName: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + megatron
        let report = try convert(src, to: .hf, dir + "/hf")
        #expect(report.droppedSections.contains("optimizer/exp_avg"))
        #expect(report.notes.contains { $0.hasPrefix("optimizer state dropped") })
        let hfDir = try HFCheckpointDirectory(path: dir + "/hf")
        #expect(hfDir.tensors.first { $0.key.name.hasSuffix("embed_tokens.weight") || $0.key.name.hasSuffix("wte.weight") }?.shape.first == 101)
        // HF -> Megatron TP2 x PP2 -> the same canonical model tensors.
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        _ = try convert(dir + "/hf", to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        #expect(try canonical(dir + "/hf") == canonical(src))
        #expect(try canonical(dir + "/meg", vocab: 101) == canonical(src))
        // A Hugging Face model of the other family is not confused with this one.
        #expect(try canonical(InteropFixtures.root + "/" + hfName) != canonical(src))
    }

    @Test func shardNamesLeavingTheDirectoryAreRefusedAndNothingIsWritten() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/evil"
        try FileManager.default.copyItem(atPath: InteropFixtures.root + "/hf-gpt2-sharded", toPath: src)
        let index = src + "/model.safetensors.index.json"
        let text = try String(contentsOfFile: index, encoding: .utf8)
        try text.replacingOccurrences(of: "\"model-00001-of-00004.safetensors\"", with: "\"../model-00001-of-00004.safetensors\"")
            .write(toFile: index, atomically: true, encoding: .utf8)
        #expect(throws: ShardingError.self) { _ = try convert(src, to: .wafer, dir + "/out.h5") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.h5"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() == ["evil"])
    }
}
