import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// The compiled-in layout data is the documented data, and the catalog reads it.
@Suite struct LayoutDataTests {
    @Test func bundledCopyIsByteIdenticalToFormats() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let documented = try Data(contentsOf: root.appendingPathComponent("formats/layouts/megatron-gpt.json"))
        let sourceCopy = try Data(contentsOf: root.appendingPathComponent("Sources/Sharding/Layouts/megatron-gpt.json"))
        #expect(Array(documented) == LayoutCatalog.bundledMegatronGPTBytes)
        #expect(documented == sourceCopy)
    }

    @Test func catalogHasBothFamilies() throws {
        let catalog = try LayoutCatalog.bundled()
        let gpt = try catalog.rules(kind: "megatron", family: "gpt2")
        let llama = try catalog.rules(kind: "megatron", family: "llama")
        #expect(gpt.tensors.contains { $0.name == "embedding.position_embeddings.weight" })
        #expect(!llama.tensors.contains { $0.name == "embedding.position_embeddings.weight" })
        #expect(throws: ShardingError.self) { try catalog.rules(kind: "megatron", family: "bert") }
    }

    @Test func rulesComeFromTheData() throws {
        // The bundled llama rules with the final norm moved to the first stage and the head
        // renamed: the interpreter follows the data, not a per-family switch.
        let bundled = try LayoutCatalog.bundled()
        var rules = try bundled.rules(kind: "megatron", family: "llama")
        for k in rules.tensors.indices {
            if rules.tensors[k].name == "decoder.final_layernorm.weight" { rules.tensors[k].stage = .first }
            if rules.tensors[k].name == "output_layer.weight" { rules.tensors[k].name = "head.weight" }
        }
        let catalog = LayoutCatalog(documents: [LayoutDocument(kind: "megatron", description: nil, families: ["llama": rules])])
        let map = try LayoutInterpreter(catalog: catalog).map(TinyModels.llama, .megatron(MegatronShape(tp: 2, pp: 2)))
        let stage0 = map.tensors(in: ShardFile(tpRank: 1, ppRank: 0)).map(\.name)
        let stage1 = map.tensors(in: ShardFile(tpRank: 1, ppRank: 1)).map(\.name)
        #expect(stage0.contains("decoder.final_layernorm.weight"))
        #expect(!stage1.contains("decoder.final_layernorm.weight"))
        #expect(stage1.contains("head.weight"))
        #expect(!stage1.contains("output_layer.weight"))
    }

    @Test func incompleteRulesAreRejected() throws {
        let bundled = try LayoutCatalog.bundled()
        var rules = try bundled.rules(kind: "megatron", family: "llama")
        rules.tensors.removeAll { $0.name.hasSuffix("linear_fc2.weight") }
        let catalog = LayoutCatalog(documents: [LayoutDocument(kind: "megatron", description: nil, families: ["llama": rules])])
        #expect(throws: ShardingError.self) {
            try LayoutInterpreter(catalog: catalog).map(TinyModels.llama, .megatron(MegatronShape(tp: 2, pp: 1)))
        }
    }

    @Test func everyCanonicalTensorIsCoveredOnce() throws {
        let interpreter = try LayoutInterpreter()
        for config in TinyModels.all {
            for (tp, pp) in [(1, 1), (2, 2), (4, 1)] where config.kvHeads % tp == 0 {
                let map = try interpreter.map(config, .megatron(MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)))
                var elements: [String: Int] = [:]
                for t in map.allTensors where t.isPrimary {
                    for s in t.segments { elements[s.canonical, default: 0] += s.canonicalBox.count }
                }
                for c in config.canonicalTensors() {
                    #expect(elements[c.name] == c.shape.reduce(1, *), "\(config.family) tp\(tp) pp\(pp) \(c.name)")
                }
            }
        }
    }
}
