import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// GPT-NeoX through the Hugging Face layout (formats/layouts/hf-neox.json): the directory
/// transformers 5.24 `save_pretrained` wrote (Tests/Fixtures/interop/hf-neox) imports to the
/// canonical tensors an independent mapping computed from transformers' memory
/// (tools/interop_canonical.py), round trips bit-exact, and the layouts that cannot hold a
/// NeoX model refuse it in one line naming the reason.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: InteropFixtures.root + "/hf-neox/expected.json"), "hf-neox fixture missing"))
struct HFNeoXConvertTests {
    static let fixture = InteropFixtures.root + "/hf-neox"

    func convert(_ source: String, to layout: CheckpointLayout, container: String? = nil, _ out: String) throws -> ConversionReport {
        var options = ConvertOptions()
        options.writer.threads = 2
        return try Converter(options: options, formats: .all()).convert(source, to: layout, container: container, output: out)
    }

    /// (stored key → bytes) of every container of `path`.
    func stored(_ path: String) throws -> [String: [UInt8]] {
        let s = try CheckpointSource(path: path, formats: .all())
        var out: [String: [UInt8]] = [:]
        for f in s.layout.files {
            let c = try s.container(f)
            for t in c.tensors { out["\(f) \(t.key)"] = try c.readAll(t.key) }
        }
        return out
    }

    /// The `cannotExpress` refusal of mapping `config` into `layout`, nil when it maps.
    func refusal(_ config: ModelConfig, _ layout: CheckpointLayout) -> (layout: String, family: String, reason: String)? {
        do {
            _ = try LayoutInterpreter().map(config, layout)
            return nil
        } catch {
            guard case .cannotExpress(let l, let f, let r) = error else { return ("other", "", error.description) }
            return (l, f, r)
        }
    }

    @Test func importGivesTheCanonicalTensorsOfTransformersMemory() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try convert(Self.fixture, to: .wafer, dir + "/w.h5")
        #expect(report.notes.isEmpty, "\(report.notes)")
        let want = try MissionRecords.megatron("hf-neox")
        let (got, _) = try MissionRecords.read(dir + "/w.h5")
        #expect(want.records.count == 36)
        #expect(got == want)
        let e = try InteropFixtures.expected("hf-neox")
        let mc = try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: try #require(e["model_config"])))
        let r = try CheckpointReader(path: dir + "/w.h5")
        #expect(r.metadata.modelConfig == mc)
        #expect(mc.family == "neox" && mc.residual == "parallel" && mc.rotaryPct == 0.25 && mc.ropeTheta == 25000)
    }

    @Test func throughWaferIsBitExact() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try convert(Self.fixture, to: .wafer, dir + "/w.h5")
        _ = try convert(dir + "/w.h5", to: .hf, dir + "/hf")
        let a = try stored(Self.fixture), b = try stored(dir + "/hf")
        #expect(a.count == 28 && a == b)
        #expect(a.keys.contains("tp0/pp0 embed_out.weight"))
        // config.json maps back to the same model, dtype and the members ckpt keeps.
        let src = try HFConfig.read(path: Self.fixture + "/config.json"), back = try HFConfig.read(path: dir + "/hf/config.json")
        #expect(back.model == src.model && back.dtype == .float16 && back.modelType == "gpt_neox")
    }

    @Test func tiedAndSequentialNeoXRoundTrip() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = TinyModels.neox
        config.tieEmbeddings = true
        config.residual = "sequential"
        try Fixtures.writeWafer(config, dtype: .float32, path: dir + "/w.h5")
        let report = try convert(dir + "/w.h5", to: .hf, dir + "/hf")
        #expect(report.droppedSections.contains("optimizer/exp_avg"))
        let names = Set(try stored(dir + "/hf").keys)
        #expect(!names.contains("tp0/pp0 embed_out.weight"), "save_pretrained drops a tied head")
        #expect(names.contains("tp0/pp0 gpt_neox.layers.1.attention.query_key_value.bias"))
        _ = try convert(dir + "/hf", to: .wafer, dir + "/back.h5")
        let a = try Fixtures.tensors(dir + "/w.h5").filter { $0.key.isModel }, b = try Fixtures.tensors(dir + "/back.h5")
        #expect(a == b)
        #expect(try CheckpointReader(path: dir + "/back.h5").metadata.modelConfig == config)
    }

    @Test func queryKeyValueIsFusedPerHead() throws {
        // Rows of query_key_value: head h's q, then its k, then its v (GPTNeoXAttention views the
        // projection as [..., heads, 3 * head_dim]).
        let map = try LayoutInterpreter().map(TinyModels.neox, .hf)
        let qkv = try #require(map.tensors(in: .wafer).first { $0.name == "gpt_neox.layers.0.attention.query_key_value.weight" })
        #expect(qkv.shape == [192, 64])
        let hd = 16
        for (k, s) in qkv.segments.enumerated() {
            let head = k / 3, part = ["q", "k", "v"][k % 3]
            #expect(s.canonical == "layers.0.attn.\(part).weight")
            #expect(s.localOffsets == [k * hd, 0] && s.canonicalBox == TensorBox(offsets: [head * hd, 0], sizes: [hd, 64]))
        }
        #expect(qkv.segments.count == 12)
    }

    @Test func bareModelNamesAndTheInMemoryHeadNameAreRead() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        _ = try convert(Self.fixture, to: .wafer, dir + "/b.h5")
        _ = try Converter(formats: store.registry()).convert(dir + "/b.h5", to: .hf, container: "memory", output: "memory:/n")
        let n = try #require(store.get("memory:/n"))
        // GPTNeoXModel's names (no "gpt_neox."), transformers 5's lm_head.weight, an old buffer.
        var renamed = n.container.tensors.map { t -> (ContainerTensor, [UInt8]) in
            var u = t
            if u.key.name.hasPrefix("gpt_neox.") { u.key.name.removeFirst("gpt_neox.".count) }
            if u.key.name == "embed_out.weight" { u.key.name = "lm_head.weight" }
            return (u, n.container.bytes[t.key]!)
        }
        renamed.append((ContainerTensor(key: .model("layers.0.attention.masked_bias"), dtype: .float32, shape: []), [0, 0, 0, 0]))
        store.put("memory:/renamed", MemoryContainer(path: "memory:/renamed", tensors: renamed), metadata: n.metadata)
        let report = try Converter(formats: store.registry()).convert("memory:/renamed", to: .wafer, output: dir + "/a.h5")
        #expect(report.notes.contains { $0.contains("masked_bias") })
        #expect(try Fixtures.tensors(dir + "/a.h5") == Fixtures.tensors(dir + "/b.h5"))
    }

    /// Megatron-LM's formats (their args say how megatron-core computes the model: no parallel
    /// residual) and Cerebras (no NeoX table) refuse NeoX before any work, in one line.
    @Test(arguments: [
        ("megatron", MegatronTorchFormats.containerFormat), ("megatron", MegatronDistFormats.containerFormat),
        ("cerebras", CerebrasFormats.containerFormat),
    ])
    func formatsWithoutANeoXFormRefuseIt(kind: String, container: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.neox, dtype: .float32, path: dir + "/w.h5")
        let layout = kind == "megatron" ? CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 1)) : CheckpointLayout(kind: .cerebras)
        do {
            _ = try convert(dir + "/w.h5", to: layout, container: container, dir + "/out")
            Issue.record("\(kind)/\(container) accepted a NeoX model")
        } catch {
            guard let error = error as? ShardingError, case .cannotExpress(let l, let family, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(l == kind && family == "neox")
            #expect(reason.contains(kind == "megatron" ? "no parallel residual" : "gpt_neox_hf_cs.py"), "\(reason)")
            #expect(!error.description.contains("\n") && !error.isValidationFailure)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    /// ckpt's HDF5 megatron layout holds NeoX (its model_config says parallel residual): TP x PP
    /// directories, optimizer state included, back to the wafer bit for bit; the q/k/v rows and
    /// the MLP split across TP ranks, the LayerNorms replicated.
    @Test(arguments: [(2, 1), (2, 2), (4, 2)])
    func neoxRoundTripsThroughCkptsMegatronLayout(tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.neox, dtype: .float32, path: dir + "/w.h5")
        _ = try convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: tp, pp: pp)), container: "ckpt", dir + "/m")
        let iteration = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/m").first { $0.hasPrefix("iter_") })
        let rank0 = try CheckpointReader(path: dir + "/m/\(iteration)/mp_rank_00\(pp > 1 ? "_000" : "")/model_optim_rng.h5")
        let qkv = try #require(rank0.tensors.first { $0.key == .model("decoder.layers.0.self_attention.linear_qkv.weight") })
        #expect(qkv.shape == [3 * TinyModels.neox.hidden / tp, TinyModels.neox.hidden])
        _ = try convert(dir + "/m", to: .wafer, dir + "/back.h5")
        #expect(try CheckpointReader(path: dir + "/back.h5").metadata.modelConfig == TinyModels.neox)
        #expect(try Fixtures.tensors(dir + "/back.h5") == Fixtures.tensors(dir + "/w.h5"))
    }

    @Test(arguments: [
        (CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 1)), "residual", "sequential"),
        (.hf, "residual", "sequential"), (CheckpointLayout(kind: .cerebras), "residual", "sequential"),
    ])
    func gpt2AndLlamaTablesRefuseAParallelResidual(layout: CheckpointLayout, field: String, value: String) throws {
        for base in [TinyModels.llama, TinyModels.gpt2] {
            var config = base
            config.residual = "parallel"
            let r = refusal(config, layout)
            #expect(r?.family == base.family && r?.reason.hasPrefix("\(field) parallel (needs \(value)): ") == true, "\(String(describing: r))")
        }
    }

    @Test func partialRotaryIsRefusedWhereTheTargetRotatesWholeHeadsAndKeptByMegatron() throws {
        var config = TinyModels.llama
        config.hidden = 64
        config.heads = 16
        config.kvHeads = 8
        config.rotaryPct = 0.5
        for layout in [CheckpointLayout.hf, CheckpointLayout(kind: .cerebras)] {
            let r = refusal(config, layout)
            #expect(r?.layout == layout.kind.name && r?.family == "llama")
            #expect(r?.reason.hasPrefix("rotary_pct 0.5 (needs 1): ") == true, "\(String(describing: r))")
        }
        // megatron-core has rotary_percent: the megatron layouts hold it, and Megatron-LM's args record it.
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(config, dtype: .float32, path: dir + "/w.h5")
        _ = try convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 2)), container: MegatronTorchFormats.containerFormat, dir + "/mlm")
        _ = try convert(dir + "/mlm", to: .wafer, dir + "/back.h5")
        let back = try CheckpointReader(path: dir + "/back.h5")
        #expect(back.metadata.modelConfig == config)
        #expect(try Fixtures.tensors(dir + "/back.h5").filter { $0.key.isModel } == Fixtures.tensors(dir + "/w.h5").filter { $0.key.isModel })
    }
}
