import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The Hugging Face tables are data: the compiled-in copies are the documented files, and
/// changing the data changes what the interpreter does.
@Suite struct HFLayoutDataTests {
    @Test func bundledCopiesAreByteIdenticalToFormats() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (source, bytes) in LayoutCatalog.bundledFiles {
            let name = URL(fileURLWithPath: source).lastPathComponent
            let documented = try Data(contentsOf: root.appendingPathComponent(source))
            let copy = try Data(contentsOf: root.appendingPathComponent("Sources/Sharding/Layouts/" + name))
            #expect(Array(documented) == bytes, "\(source)")
            #expect(documented == copy, "\(name)")
        }
        let catalog = try LayoutCatalog.bundled()
        #expect(catalog.documents["hf"]?.families.keys.sorted() == ["gpt2", "llama", "neox"])
    }

    @Test func transposeAndNamesComeFromTheData() throws {
        let bundled = try LayoutCatalog.bundled()
        var rules = try bundled.rules(kind: "hf", family: "gpt2")
        for k in rules.tensors.indices {
            if rules.tensors[k].name.hasSuffix("mlp.c_fc.weight") { rules.tensors[k].transpose = nil }
            if rules.tensors[k].name == "transformer.ln_f.weight" { rules.tensors[k].name = "final.scale" }
        }
        let catalog = LayoutCatalog(documents: [LayoutDocument(kind: "hf", description: nil, families: ["gpt2": rules])])
        let map = try LayoutInterpreter(catalog: catalog).map(TinyModels.gpt2, .hf)
        let shapes = Dictionary(uniqueKeysWithValues: map.tensors(in: .wafer).map { ($0.name, $0.shape) })
        #expect(shapes["transformer.h.0.mlp.c_fc.weight"] == [32, 16], "no transpose in the data: stored as [out, in]")
        #expect(shapes["transformer.h.0.mlp.c_proj.weight"] == [32, 16], "still transposed")
        #expect(shapes["final.scale"] == [16] && shapes["transformer.ln_f.weight"] == nil)
        // The plan follows: c_fc is copied without a transpose.
        let plan = try ReshardPlanner(interpreter: LayoutInterpreter(catalog: catalog)).plan(TinyModels.gpt2, from: .wafer, to: .hf)
        let fc = plan.files[0].tensors.first { $0.target.name == "transformer.h.0.mlp.c_fc.weight" }!
        #expect(fc.pieces.map(\.transposed) == [false])
    }

    @Test func aliasesAndIgnoredNamesComeFromTheData() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = MemoryStore()
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.llama, dtype: .float32, path: wafer)
        _ = try Converter(formats: store.registry()).convert(wafer, to: .hf, container: "memory", output: "memory:/l")
        let l = try #require(store.get("memory:/l"))
        // The bare LlamaModel spelling, plus an old rotary buffer.
        var bare = l.container.tensors.map { t -> (ContainerTensor, [UInt8]) in
            var u = t
            if u.key.name.hasPrefix("model.") { u.key.name.removeFirst("model.".count) }
            return (u, l.container.bytes[t.key]!)
        }
        bare.append((ContainerTensor(key: .model("layers.0.self_attn.rotary_emb.inv_freq"), dtype: .float32, shape: [1]), [0, 0, 0, 0]))
        store.put("memory:/bare", MemoryContainer(path: "memory:/bare", tensors: bare), metadata: l.metadata)
        #expect(try Converter(formats: store.registry()).convert("memory:/bare", to: .wafer, output: dir + "/a.h5").files == 1)
        // Without the alias and ignore entries the same file is refused.
        var rules = try LayoutCatalog.bundled().rules(kind: "hf", family: "llama")
        rules.aliases = nil
        rules.ignored = nil
        let megatron = try LayoutCatalog.bundled().documents["megatron"]!
        let catalog = LayoutCatalog(documents: [megatron, LayoutDocument(kind: "hf", description: nil, families: ["llama": rules])])
        let converter = Converter(
            planner: ReshardPlanner(interpreter: LayoutInterpreter(catalog: catalog)), options: ConvertOptions(), formats: store.registry())
        #expect(throws: ShardingError.unexpectedTensor(path: "memory:/bare", tensor: "embed_tokens.weight")) {
            _ = try converter.convert("memory:/bare", to: .wafer, output: dir + "/b.h5")
        }
    }

    @Test func unknownRuleKeysAreRejected() throws {
        let json = #"{"kind":"hf","families":{"gpt2":{"tensors":[{"name":"a","canonical":["embed.tokens.weight"],"tranpose":true}]}}}"#
        #expect(throws: ShardingError.self) { try LayoutCatalog(jsonFiles: [("t.json", Array(json.utf8))]) }
        let twice = #"{"kind":"hf","families":{"gpt2":{"tensors":[]}}}"#
        #expect(throws: ShardingError.badLayoutData(source: "b.json", detail: "family 'gpt2' of layout 'hf' is also defined in a.json")) {
            try LayoutCatalog(jsonFiles: [("a.json", Array(twice.utf8)), ("b.json", Array(twice.utf8))])
        }
    }
}
