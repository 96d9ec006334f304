import Foundation
import Testing

/// `ckpt synth --family neox` and the GPT-NeoX conversions from the command line: the Hugging
/// Face round trip works, the layouts without a NeoX form refuse it in one line, exit 2.
@Suite struct NeoXCommandTests {
    @Test func synthNeoXWritesThePythiaShape() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/n.h5"
        let r = try CLI.run(["synth", "--family", "neox", "--preset", "tiny", "--optimizer", "adamw", "--out", f])
        #expect(r.status == 0, "\(r.stderr)")
        let info = try CLIFixtures.json(try CLI.run(["info", f, "--json"]))
        let cfg = try #require(info["model_config"] as? [String: Any])
        #expect(cfg["family"] as? String == "neox" && cfg["residual"] as? String == "parallel" && cfg["rotary_pct"] as? Double == 0.25)
        #expect(cfg["norm"] as? String == "layernorm" && cfg["activation"] as? String == "gelu" && cfg["tie_embeddings"] as? Bool == false)
        #expect(try CLI.run(["verify", f]).status == 0)
        #expect(try CLI.run(["info", f]).stdout.contains("layernorm, gelu, rope positions (rotary_pct 0.25), parallel residual, untied head"))
        // --hidden keeps the head size, so the rotary dimensions stay valid; ffn follows 4 x hidden.
        let g = dir + "/g.h5"
        #expect(try CLI.run(["synth", "--family", "neox", "--preset", "tiny", "--hidden", "128", "--out", g]).status == 0)
        let c2 = try #require(try CLIFixtures.json(try CLI.run(["info", g, "--json"]))["model_config"] as? [String: Any])
        #expect(c2["heads"] as? Int == 8 && c2["ffn"] as? Int == 512 && c2["kv_heads"] as? Int == 8)
        // A head too small for a quarter of it to rotate in pairs is refused before writing.
        let bad = try CLI.run(["synth", "--family", "neox", "--preset", "tiny", "--heads", "16", "--out", dir + "/b.h5"])
        #expect(bad.status == 2 && bad.stderr.contains("rotary_pct"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/b.h5"))
    }

    @Test func neoxConvertsToHFAndMegatronHDF5AndBackAndIsRefusedByMegatronLMAndCerebras() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/n.h5"
        #expect(try CLI.run(["synth", "--family", "neox", "--preset", "tiny", "--out", f]).status == 0)
        let hf = try CLI.run(["convert", f, "--to", "hf", "--out", dir + "/hf"])
        #expect(hf.status == 0, "\(hf.stderr)")
        let config = try String(contentsOfFile: dir + "/hf/config.json", encoding: .utf8)
        #expect(config.contains("\"model_type\": \"gpt_neox\"") && config.contains("\"use_parallel_residual\": true"))
        #expect(try CLI.run(["convert", dir + "/hf", "--to", "wafer", "--out", dir + "/back.h5"]).status == 0)
        // ckpt's HDF5 megatron layout holds it, bit for bit back.
        #expect(try CLI.run(["convert", f, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", dir + "/m"]).status == 0)
        #expect(try CLI.run(["convert", dir + "/m", "--to", "wafer", "--out", dir + "/m.h5"]).status == 0)
        try ConvertCommandTests.expectSameCheckpoint(f, dir + "/m.h5")
        for target in [
            ["--to", "megatron-torch", "--tp", "1", "--pp", "1"], ["--to", "megatron-dist", "--tp", "2", "--pp", "1"], ["--to", "cerebras"],
        ] {
            let r = try CLI.run(["convert", f] + target + ["--out", dir + "/out"])
            #expect(r.status == 2, "\(target): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("cannot express this neox model"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        }
    }
}
