import Foundation
import Testing

/// RoPE scaling from the command line: an HF LLaMA with Llama 3.1 scaling (the hf-llama
/// fixture's tensors under a config.json with transformers 5.24's llama3 `rope_parameters`)
/// shows it in `info`, keeps it through megatron-torch and cerebras back to hf, and a scaling
/// megatron-core cannot compute is refused in one line, exit 2, before anything is written;
/// `step` and `verify-step` compute a scaled model.
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

    /// `step` and `verify-step` compute RoPE scaling: transformers' step of a Llama 3.1-scaled
    /// model (ReferenceCoreTests' llama3-fp32 fixture) is certified, and ckpt's own step of it
    /// keeps the scaling in its output and verifies (ReferenceCoreTests'
    /// RopeScalingAgreementTests show that the unscaled computation is rejected).
    @Test func stepAndVerifyStepComputeAScaledModel() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = CLIFixtures.repo + "/Tests/ReferenceCoreTests/Fixtures/llama3-fp32"
        let certified = try CLI.run(["verify-step", "--before", f + "/before.h5", "--after", f + "/after.h5", "--batch", f + "/batch.h5"])
        #expect(certified.status == 0, "\(certified.stdout)\(certified.stderr)")
        let step = try CLI.run(["step", "--before", f + "/before.h5", "--batch", f + "/batch.h5", "--out", dir + "/after.h5"])
        #expect(step.status == 0, "\(step.stderr)")
        let after = try CLIFixtures.json(try CLI.run(["info", dir + "/after.h5", "--json"]))
        let scaling = try #require((after["model_config"] as? [String: Any])?["rope_scaling"] as? [String: Any])
        #expect(scaling["type"] as? String == "llama3" && scaling["factor"] as? Double == 8 && scaling["original_max_seq"] as? Int == 16)
        let verified = try CLI.run(["verify-step", "--before", f + "/before.h5", "--after", dir + "/after.h5", "--batch", f + "/batch.h5"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
    }
}
