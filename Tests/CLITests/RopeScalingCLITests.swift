import Foundation
import Testing

/// RoPE scaling from the command line: an HF LLaMA with Llama 3.1 scaling (the hf-llama
/// fixture's tensors under a config.json with transformers 5.24's llama3 `rope_parameters`)
/// shows it in `info`, keeps it through megatron-torch and cerebras back to hf, and a scaling
/// megatron-core cannot compute is refused in one line, exit 2, before anything is written.
@Suite struct RopeScalingCLITests {
    static let fixture = CLIFixtures.repo + "/Tests/Fixtures/interop/hf-llama"

    static let llama31 =
        #"{"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_theta": 10000.0, "rope_type": "llama3"}"#

    /// A copy of hf-llama whose config.json has `rope` as its rope_parameters.
    static func scaledCopy(_ dir: String, rope: String = llama31) throws -> String {
        let out = dir + "/hf-scaled"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: fixture) where f != "expected.json" {
            try FileManager.default.copyItem(atPath: fixture + "/" + f, toPath: out + "/" + f)
        }
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))) as? [String: Any])
        config["rope_parameters"] = try JSONSerialization.jsonObject(with: Data(rope.utf8))
        try FileManager.default.removeItem(atPath: out + "/config.json")
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: out + "/config.json"))
        return out
    }

    static func ropeParameters(_ dir: String) throws -> [String: Any] {
        let c = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])
        return try #require(c["rope_parameters"] as? [String: Any])
    }

    @Test func scalingSurvivesMegatronTorchAndCerebrasBackToHF() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hf = try Self.scaledCopy(dir)
        let info = try CLIFixtures.json(try CLI.run(["info", hf, "--json"]))
        let scaling = try #require((info["model_config"] as? [String: Any])?["rope_scaling"] as? [String: Any])
        #expect(scaling["type"] as? String == "llama3" && scaling["factor"] as? Double == 8 && scaling["original_max_seq"] as? Int == 8192)
        let text = try CLI.run(["info", hf]).stdout
        #expect(text.contains("rope scaling llama3 (factor 8.0, low_freq_factor 1.0, high_freq_factor 4.0, original_max_seq 8192)"), "\(text)")
        let original = try Self.ropeParameters(hf)
        for (name, target) in [("mlm", ["--to", "megatron-torch", "--tp", "2", "--pp", "1"]), ("cs.mdl", ["--to", "cerebras"])] {
            let r = try CLI.run(["convert", hf] + target + ["--out", dir + "/" + name])
            #expect(r.status == 0, "\(target): \(r.stderr)")
            let back = try CLI.run(["convert", dir + "/" + name, "--to", "hf", "--vocab", "101", "--out", dir + "/hf-" + name])
            #expect(back.status == 0, "\(back.stderr)")
            let rope = try Self.ropeParameters(dir + "/hf-" + name)
            #expect(NSDictionary(dictionary: rope).isEqual(to: original), "\(name): \(rope)")
        }
    }

    @Test func megatronRefusesAScalingMegatronCoreCannotCompute() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hf = try Self.scaledCopy(
            dir,
            rope:
                #"{"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 4096, "rope_theta": 10000.0, "rope_type": "llama3"}"#
        )
        for target in [["--to", "megatron-torch", "--tp", "1", "--pp", "1"], ["--to", "megatron-dist", "--tp", "1", "--pp", "1"]] {
            let r = try CLI.run(["convert", hf] + target + ["--out", dir + "/out"])
            #expect(r.status == 2, "\(target): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("rope_scaling.original_max_seq 4096 (needs 8192)"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        }
        let yarn = try Self.scaledCopy(
            dir + "/y", rope: #"{"factor": 4.0, "original_max_position_embeddings": 32, "rope_theta": 10000.0, "rope_type": "yarn"}"#)
        let r = try CLI.run(["info", yarn])
        #expect(r.status != 0 && r.stderr.contains("rope_parameters.rope_type \"yarn\""), "\(r.stderr)")
    }

    /// The reference core computes unscaled RoPE: `step` and `verify-step` refuse a scaled
    /// model by name (exit 1, as every model the core does not compute) rather than computing
    /// other math.
    @Test func stepAndVerifyStepRefuseAScaledModel() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hf = try Self.scaledCopy(dir)
        #expect(try CLI.run(["convert", hf, "--to", "wafer", "--out", dir + "/w.h5"]).status == 0)
        for args in [
            ["step", "--before", dir + "/w.h5", "--batch", dir + "/batch.h5", "--out", dir + "/after.h5"],
            ["verify-step", "--before", dir + "/w.h5", "--after", dir + "/w.h5", "--batch", dir + "/batch.h5"],
        ] {
            let r = try CLI.run(args)
            #expect(r.status == 1, "\(args[0]): \(r.stderr)")  // ExitPolicy: a model the core does not compute
            #expect(r.stderr.contains("rope_scaling llama3 (factor 8.0") && r.stderr.contains("does not apply RoPE frequency scaling"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/after.h5"))
    }
}
