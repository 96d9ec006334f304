import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Conversions of the `.mdl` files cstorch.save wrote (Tests/Fixtures/interop/cerebras-*: Model
/// Zoo GPT-2 and LLaMA, bf16, two AdamW steps) to and from the wafer layout. The expected
/// canonical tensors and the optimizer's parameter order come from the real Model Zoo optimizer
/// (its param_groups), independently of ckpt's layout tables.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: InteropFixtures.root + "/cerebras-llama/expected.json"), "cerebras fixtures missing"))
struct CerebrasConvertTests {
    static let models = ["cerebras-gpt2", "cerebras-llama"]

    func convert(_ source: String, to layout: CheckpointLayout, _ out: String) throws -> ConversionReport {
        var options = ConvertOptions()
        options.writer.threads = 2
        return try Converter(options: options, formats: .all()).convert(source, to: layout, output: out)
    }

    func mdl(_ name: String) throws -> String {
        let e = try InteropFixtures.expected(name)
        return InteropFixtures.root + "/" + name + "/" + (e["file"] as? String ?? "")
    }

    func hex(_ bytes: [UInt8]) -> String {
        let s = String(bytes.withUnsafeBytes { XXH3.hash($0) }, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    @Test(arguments: models)
    func toWaferGivesTheCanonicalTensorsModelZooHeld(_ name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try convert(try mdl(name), to: .wafer, dir + "/w.h5")
        #expect(report.droppedSections.isEmpty)
        let e = try InteropFixtures.expected(name)
        let canonical = try #require(e["canonical"] as? [String: [String: [String: Any]]])
        let r = try CheckpointReader(path: dir + "/w.h5")
        var want = Set<TensorKey>()
        for (section, tensors) in canonical {
            for (n, rec) in tensors {
                let key = TensorKey(section: section, name: n)
                want.insert(key)
                let got = try r.read(key)
                #expect(got.dtype.rawValue == rec["dtype"] as? String, "\(name): \(key)")
                #expect(got.shape == (rec["shape"] as? [Int]), "\(name): \(key)")
                #expect(hex(got.bytes) == rec["xxh3_64"] as? String, "\(name): \(key)")
            }
        }
        #expect(Set(r.tensors.map(\.key)) == want)
        #expect(r.metadata.step == 2)
        let mc = try JSONSerialization.data(withJSONObject: try #require(e["model_config"]))
        #expect(r.metadata.modelConfig == (try JSONDecoder().decode(ModelConfig.self, from: mc)))
        #expect(r.metadata.optimizer?.lr != nil && r.metadata.optimizer?.weightDecay == 0.1)
    }

    @Test(arguments: models)
    func tableOrderIsModelZoosOptimizerOrder(_ name: String) throws {
        let e = try InteropFixtures.expected(name)
        let order = try #require(e["parameter_order"] as? [String])
        let sizes = try #require(e["param_group_sizes"] as? [Int])
        let mc = try JSONDecoder().decode(ModelConfig.self, from: try JSONSerialization.data(withJSONObject: try #require(e["model_config"])))
        let interpreter = try LayoutInterpreter()
        let layout = CheckpointLayout(kind: .cerebras)
        let expanded = try #require(try interpreter.rules(mc, layout)?.optimizer).expand(try interpreter.map(mc, layout))
        #expect(expanded.grouped == order)
        #expect([expanded.decayed.count, expanded.plain.count] == sizes)
    }

    @Test(arguments: models)
    func mdlThroughWaferIsBitExact(_ name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = try mdl(name)
        _ = try convert(src, to: .wafer, dir + "/w.h5")
        _ = try convert(dir + "/w.h5", to: CheckpointLayout(kind: .cerebras), dir + "/back.mdl")
        let a = try CerebrasMDLFile(path: src), b = try CerebrasMDLFile(path: dir + "/back.mdl")
        #expect(a.spec == b.spec)
        #expect(a.leaves.map(\.key) == b.leaves.map(\.key))
        var tensors = 0
        for (x, y) in zip(a.leaves, b.leaves) {
            if x.tensor != nil {
                #expect(try a.readLeaf(x) == b.readLeaf(y), "\(name): \(x.key)")
                tensors += 1
            } else {
                #expect(x.kind == y.kind, "\(name): \(x.key)")
            }
        }
        #expect(tensors > 60)
        // Every optimizer moment is still under its own index.
        #expect(b.leaves.filter { $0.key.hasSuffix(".exp_avg_sq") }.count == a.leaves.filter { $0.key.hasSuffix(".exp_avg_sq") }.count)
    }

    /// Without the kept state dict (a checkpoint from elsewhere) the writer rebuilds Model Zoo's:
    /// the same model keys and, index by index, the same optimizer moments as the real file.
    @Test(arguments: models)
    func generatedStateDictNumbersParametersLikeModelZoo(_ name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try convert(try mdl(name), to: .wafer, dir + "/w.h5")
        try Fixtures.rewrite(dir + "/w.h5") { m, _ in m.userJSON = nil }
        _ = try convert(dir + "/w.h5", to: CheckpointLayout(kind: .cerebras), dir + "/gen.mdl")
        let a = try CerebrasMDLFile(path: try mdl(name)), b = try CerebrasMDLFile(path: dir + "/gen.mdl")
        var checked = 0
        for x in a.leaves where x.tensor != nil && (x.key.hasPrefix("model.") || x.key.hasSuffix(".exp_avg") || x.key.hasSuffix(".exp_avg_sq")) {
            let y = try #require(b.leaf(x.key), "\(name): the generated file has no \(x.key)")
            #expect(try a.readLeaf(x) == b.readLeaf(y), "\(name): \(x.key)")
            checked += 1
        }
        #expect(checked == b.leaves.filter { $0.tensor != nil && !$0.key.hasSuffix("_power") }.count)
        // cstorch's AdamW keeps beta^(step+1), multiplied in float32.
        let p = try #require(b.leaf("optimizer.state.0.beta1_power"))
        let q = try #require(a.leaf("optimizer.state.0.beta1_power"))
        #expect(try b.readLeaf(p) == a.readLeaf(q))
        #expect(b.leaf("global_step")?.kind == .scalar(.int(2)))
    }

    @Test(arguments: ["gpt2", "llama"])
    func waferThroughCerebrasIsBitExact(_ family: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = ModelConfig.preset(family: family, name: "tiny")!
        try Fixtures.writeWafer(config, dtype: .bfloat16, path: dir + "/a.h5")
        let out = try convert(dir + "/a.h5", to: CheckpointLayout(kind: .cerebras), dir + "/a.mdl")
        #expect(out.droppedSections.isEmpty)
        _ = try convert(dir + "/a.mdl", to: .wafer, dir + "/b.h5")
        let a = try Fixtures.tensors(dir + "/a.h5"), b = try Fixtures.tensors(dir + "/b.h5")
        #expect(a.count == b.count && a.count > 40)
        for (k, t) in a { #expect(b[k] == t, "\(family): \(k)") }
        let m = try CheckpointReader(path: dir + "/b.h5").metadata
        #expect(m.step == 1234 && m.modelConfig == config)
        // The .mdl names the moments by index, in Model Zoo's order: index 0 is the embedding.
        let f = try CerebrasMDLFile(path: dir + "/a.mdl")
        let e0 = try f.readLeaf(try #require(f.leaf("optimizer.state.0.exp_avg")))
        #expect(e0 == a[.optimizer("exp_avg", "embed.tokens.weight")]?.bytes)
    }
}
