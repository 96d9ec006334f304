import CheckpointStore
import Foundation
import Testing

/// `ckpt convert` of the checkpoint torchtitan wrote (Tests/Fixtures/interop/dcp-torchtitan-llama):
/// with `--model-config` its job config, to wafer (Adam state kept, `verify` passes) and to hf;
/// without it, or with a config that does not fit, one line and the documented exit code.
@Suite struct TorchtitanCLITests {
    static let root = CLIFixtures.repo + "/Tests/Fixtures/interop/dcp-torchtitan-llama"
    static let step = root + "/checkpoint/step-2"
    static let job = root + "/job_config.json"

    @Test func convertToWaferAndHF() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try CLI.run(["convert", Self.step, "--model-config", Self.job, "--to", "wafer", "--out", dir + "/w.h5", "--json"])
        #expect(w.status == 0, "\(w.stderr)")
        let report = try #require(try CLIFixtures.json(w)["report"] as? [String: Any])
        #expect(report["source_format"] as? String == "torchtitan" && report["source_layout"] as? String == "torchtitan")
        let v = try CLI.run(["verify", dir + "/w.h5"])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        let info = try CLIFixtures.json(try CLI.run(["info", dir + "/w.h5", "--json"]))
        #expect(info["step"] as? Int == 2 && (info["optimizer"] as? [String: Any])?["variant"] as? String == "torch")
        let hf = try CLI.run(["convert", Self.step, "--model-config", Self.job, "--to", "hf", "--out", dir + "/hf"])
        #expect(hf.status == 0, "\(hf.stderr)")
        #expect(hf.stdout.contains("note: optimizer state dropped") && hf.stdout.contains("torchtitan's train_state"), "\(hf.stdout)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/hf/config.json"))) as? [String: Any])
        #expect(config["num_key_value_heads"] as? Int == 2 && config["rms_norm_eps"] as? Double == 1e-6)
    }

    @Test func withoutTheJobConfigItSaysWhatToPass() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["convert", Self.step, "--to", "wafer", "--out", dir + "/w.h5"])
        #expect(r.status == 2, "\(r.stderr)")
        let line = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n") && line.contains(Self.step) && line.contains("--model-config"), "\(line)")
        let missing = try CLI.run(["convert", Self.step, "--model-config", dir + "/none.json", "--to", "wafer", "--out", dir + "/w.h5"])
        #expect(missing.status == 2 && missing.stderr.contains(dir + "/none.json"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/w.h5"))
    }

    @Test func aJobConfigThatDoesNotFitExitsOne() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = try String(contentsOfFile: Self.job, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"vocab_size\": 96", with: "\"vocab_size\": 100")
        try text.write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let r = try CLI.run(["convert", Self.step, "--model-config", dir + "/job.json", "--to", "wafer", "--out", dir + "/w.h5"])
        #expect(r.status == 1, "\(r.stderr)")
        let line = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n") && line.contains("tok_embeddings.weight") && line.contains("[100, 64]"), "\(line)")
    }
}
