import Foundation
import Testing

@testable import CheckpointStore

/// Presets have one source: formats/presets.json links to the compiled-in file, the
/// Swift API serves it, and each family's presets share the switches that become its
/// conventions.
@Suite struct PresetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func compiledInCopyIsFormatsPresetsJSON() throws {
        let documented = try Data(contentsOf: Self.root.appendingPathComponent("formats/presets.json"))
        let copy = try Data(contentsOf: Self.root.appendingPathComponent("Sources/CheckpointStore/Model/presets.json"))
        #expect(documented == copy, "formats/presets.json must be the compiled-in Sources/CheckpointStore/Model/presets.json")
        #expect(Array(documented) == ModelConfig.presetsJSON)
    }

    @Test func everyPresetOfTheFileIsServedInSizeOrder() throws {
        let documented = try Data(contentsOf: Self.root.appendingPathComponent("formats/presets.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: documented) as? [String: [String: Any]])
        #expect(ModelConfig.presetFamilies == object.keys.sorted())
        for (family, presets) in object {
            let names = ModelConfig.presetNames(family: family)
            #expect(Set(names) == Set(presets.keys), "\(family)")
            let counts = names.map { ModelConfig.preset(family: family, name: $0)!.parameterCount }
            #expect(counts == counts.sorted(), "\(family): \(names) not smallest first")
            for name in names {
                let json = try JSONSerialization.data(withJSONObject: presets[name]!)
                #expect(try JSONDecoder().decode(ModelConfig.self, from: json) == ModelConfig.preset(family: family, name: name))
            }
        }
        #expect(ModelConfig.presetNames(family: "gpt2") == ["tiny", "124m", "350m", "760m", "1.3b", "2.7b", "6.7b", "13b", "20b"])
        #expect(ModelConfig.preset(family: "gpt2", name: "124m")?.parameterCount == 124_439_808)
        #expect(ModelConfig.preset(family: "llama", name: "7b")?.parameterCount == 6_738_415_616)
        #expect(ModelConfig.preset(family: "GPT2", name: "tiny") == nil && ModelConfig.preset(family: "gpt2", name: "TINY") != nil)
    }

    @Test func presetsOfAFamilyShareItsConventions() throws {
        for family in ModelConfig.presetFamilies {
            let conventions = try #require(ModelConfig.conventions(family: family))
            for name in ModelConfig.presetNames(family: family) {
                let p = try #require(ModelConfig.preset(family: family, name: name))
                #expect(ModelConfig.Conventions(p) == conventions, "\(family) \(name) differs from the family's other presets")
                // The initialiser fills left-out switches with them.
                let filled = ModelConfig(
                    family: family, layers: p.layers, hidden: p.hidden, heads: p.heads, kvHeads: p.kvHeads, ffn: p.ffn, vocab: p.vocab,
                    maxSeq: p.maxSeq)
                #expect(filled == p, "\(family) \(name)")
            }
        }
        let neox = try #require(ModelConfig.conventions(family: "neox"))
        #expect(neox.residual == "parallel" && neox.rotaryPct == 0.25 && neox.activation == "gelu" && !neox.tieEmbeddings)
    }
}
