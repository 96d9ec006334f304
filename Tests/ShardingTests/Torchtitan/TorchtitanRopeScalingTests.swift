import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// torchtitan's `RoPE.Config` scaling `llama` read into `ModelConfig.ropeScaling` (type
/// `llama3`): the job configs of torchtitan 0.3's own presets (Tests/Fixtures/interop/
/// torchtitan-configs, tools/make_torchtitan_configs.py) with the frequencies its ComplexRoPE
/// computes, and the edited test config's refusals.
@Suite struct TorchtitanRopeScalingTests {
    static let dir = InteropFixtures.root + "/torchtitan-configs"

    static func expected() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(doc["presets"] as? [String: [String: Any]])
    }

    @Test(arguments: ["llama3_8b", "llama3_debugmodel"])
    func torchtitanPresetsMapWithTheirFrequencies(preset: String) throws {
        let e = try #require(try Self.expected()[preset])
        let rope = try #require(e["rope"] as? [String: Any])
        let job = try TorchtitanJobConfig.read(path: Self.dir + "/" + preset + ".json")
        let heads = e["n_heads"] as! Int
        #expect(job.flavor == e["flavor"] as? String)
        #expect(
            job.model
                == ModelConfig(
                    family: "llama", layers: e["n_layers"] as! Int, hidden: e["dim"] as! Int, heads: heads, kvHeads: e["n_kv_heads"] as? Int ?? heads,
                    ffn: e["hidden_dim"] as! Int, vocab: e["vocab_size"] as! Int, maxSeq: rope["max_seq_len"] as! Int, normEps: e["eps"] as! Double,
                    tieEmbeddings: e["tied"] as! Bool, ropeTheta: Double(rope["theta"] as! Int), bias: false,
                    ropeScaling: .llama3(
                        factor: rope["scaling_factor"] as! Double, lowFreqFactor: rope["low_freq_factor"] as! Double,
                        highFreqFactor: rope["high_freq_factor"] as! Double, originalMaxSeq: rope["original_max_position_embeddings"] as! Int)))
        #expect(rope["scaling"] as? String == "llama")
        let theirs = try #require(e["inv_freq"] as? [Double])
        let mine = job.model.ropeInverseFrequencies()
        #expect(mine.count == theirs.count && mine.count == (rope["dim"] as! Int) / 2)
        // torchtitan's values are the angles of its complex64 cache: a few float32 ulps.
        for (a, b) in zip(mine, theirs) { #expect(abs(a - b) / b < 2e-6, "\(preset): \(a) vs torchtitan \(b)") }
    }

    private typealias Doc = [String: Any]

    /// The test job config with every layer's rope config changed by `change`.
    private static func rope(_ change: @escaping (inout Doc) -> Void) -> (inout Doc) -> Void {
        { doc in
            var spec = doc["model_spec"] as! Doc
            var model = spec["model"] as! Doc
            var layers = model["layers"] as! [Doc]
            for i in layers.indices {
                var a = layers[i]["attention"] as! Doc
                var r = a["rope"] as! Doc
                change(&r)
                a["rope"] = r
                layers[i]["attention"] = a
            }
            model["layers"] = layers
            spec["model"] = model
            doc["model_spec"] = spec
        }
    }

    private static func llama(factor: Double = 32) -> (inout Doc) -> Void {
        rope { r in
            r["scaling"] = "llama"
            r["scaling_factor"] = factor
            r["low_freq_factor"] = 1.0
            r["high_freq_factor"] = 4.0
            r["original_max_position_embeddings"] = 8192
        }
    }

    @Test func llamaScalingMapsToLlama3() throws {
        let m = try TitanStores.job(edit: Self.llama()).model
        #expect(m.ropeScaling == .llama3(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192))
        #expect(try TitanStores.job().model.ropeScaling == nil)
        let none = try TitanStores.job(edit: Self.rope { $0["scaling"] = nil }).model
        #expect(none.ropeScaling == nil)
    }

    private func error(_ edit: @escaping (inout Doc) -> Void) -> String? {
        do {
            _ = try TorchtitanJobConfig(json: TitanStores.jobJSON(edit: edit), path: "run/job_config.json")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func refusals() {
        let cases: [((inout Doc) -> Void, String)] = [
            (
                { d in
                    Self.llama()(&d); Self.rope { $0["scaling_factor"] = nil }(&d)
                },
                "model_spec.model.layers[0].attention.rope.scaling_factor: missing (ckpt needs it for the llama rope scaling)"
            ),
            (
                { d in
                    Self.llama()(&d); Self.rope { $0["original_max_position_embeddings"] = 81.5 }(&d)
                },
                "rope.original_max_position_embeddings: expected a positive integer, found 81.5"
            ),
            (
                { d in
                    Self.llama()(&d); Self.rope { $0["high_freq_factor"] = 0.5 }(&d)
                },
                "rope.high_freq_factor: 0.5 must exceed low_freq_factor 1.0"
            ),
            (
                { d in
                    Self.llama()(&d); Self.rope { $0["low_freq_factor"] = 0.0 }(&d)
                }, "rope.low_freq_factor: must be positive"
            ),
            (Self.rope { $0["scaling"] = "yarn" }, "rope.scaling: \"yarn\" frequency scaling is not one ckpt computes"),
            (
                { d in
                    Self.llama()(&d)
                    var spec = d["model_spec"] as! Doc
                    var model = spec["model"] as! Doc
                    var layers = model["layers"] as! [Doc]
                    var a = layers[1]["attention"] as! Doc
                    var r = a["rope"] as! Doc
                    r["scaling_factor"] = 8.0
                    a["rope"] = r
                    layers[1]["attention"] = a
                    model["layers"] = layers
                    spec["model"] = model
                    d["model_spec"] = spec
                },
                "layers[1]: differs from layers[0] (n_heads 4, n_kv_heads 2, ffn 48, rope theta 500000.0, max_seq_len 64, eps [1e-06, 1e-06], rope scaling llama3 (factor 8.0"
            ),
        ]
        for (edit, message) in cases {
            let line = error(edit)
            #expect(line?.hasPrefix("run/job_config.json: ") == true, "\(line ?? "accepted")")
            #expect(line?.contains(message) == true && line?.contains("\n") == false, "\(line ?? "accepted") does not say \(message)")
        }
    }
}
