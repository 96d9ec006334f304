import Foundation
import Testing

/// Issue 9 items 20 and 21: defaults follow `--family`, closed choices are listed by `--help`,
/// every command's help has an example, bare `ckpt` prints help with exit 2, completion scripts
/// exist, and `--rows` reads Python-style ranges (`-1:` without `=`) with clear errors.
@Suite struct HelpAndChoicesTests {
    @Test func synthLlamaWithoutPresetFollowsTheFamily() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/l.h5"
        let r = try CLI.run(["synth", "--family", "llama", "--layers", "2", "--hidden", "64", "--vocab", "96", "--max-seq", "32", "--out", f])
        #expect(r.status == 0, "\(r.stderr)")
        let info = try CLIFixtures.json(try CLI.run(["info", f, "--json"]))
        let cfg = try #require(info["model_config"] as? [String: Any])
        #expect(cfg["family"] as? String == "llama" && cfg["layers"] as? Int == 2 && cfg["hidden"] as? Int == 64)
        #expect(try CLI.run(["verify", f]).status == 0)
    }

    @Test(arguments: [
        ("synth", ["gpt2, llama, neox", "fp32, bf16, fp16", "adamw, adamw-decoupled"]),
        ("verify-step", ["fp32, bf16"]),
        ("convert", ["wafer, megatron"]),
        ("bench write", ["fp32, bf16, fp16"]),
    ])
    func helpListsClosedChoices(command: String, lists: [String]) throws {
        let r = try CLI.run(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(r.status == 0)
        let text = r.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        for l in lists { #expect(text.contains("values: \(l)"), "\(command) --help does not list \(l)") }
    }

    @Test(arguments: ["synth", "info", "ls", "verify", "get", "convert", "step", "verify-step", "bench write", "bench read"])
    func helpHasAnExampleAndMarksRequiredOptions(command: String) throws {
        let r = try CLI.run(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example:"), "\(command) --help has no example")
        #expect(!r.stdout.contains("--out <out>") || r.stdout.contains("(required)"), "\(command): --out not marked required")
    }

    @Test func optimizerDefaultIsStated() throws {
        let r = try CLI.run(["synth", "--help"])
        #expect(r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ").contains("(default: none, parameters only)"))
    }

    @Test func bareCkptPrintsHelpAndExitsTwo() throws {
        let r = try CLI.run([])
        #expect(r.status == 2)
        #expect(r.stderr.contains("SUBCOMMANDS") && r.stderr.contains("--generate-completion-script"))
        let bench = try CLI.run(["bench"])
        #expect(bench.status == 2 && bench.stderr.contains("SUBCOMMANDS"))
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsAreGenerated(shell: String) throws {
        let r = try CLI.run(["--generate-completion-script", shell])
        #expect(r.status == 0)
        #expect(r.stdout.contains("verify-step"))
    }

    @Test func rowRangesArePythonStyle() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try CLIFixtures.tiny(dir)
        let name = "layers.0.attn.q.weight"  // 64 rows
        let last = try CLI.run(["get", f, name, "--rows", "-1:", "--out", dir + "/last.npy", "--json"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try CLIFixtures.json(last)["rows"] as? [Int] == [63, 64])
        let butTwo = try CLI.run(["get", f, name, "--rows", ":-2", "--out", dir + "/b.npy", "--json"])
        #expect(try CLIFixtures.json(butTwo)["rows"] as? [Int] == [0, 62])

        let reversed = try CLI.run(["get", f, name, "--rows", "5:3", "--out", dir + "/r.npy"])
        #expect(reversed.status == 2)
        #expect(reversed.stderr.contains("start 5 > end 3"), "\(reversed.stderr)")
        let outside = try CLI.run(["get", f, name, "--rows", "-100:", "--out", dir + "/o.npy"])
        #expect(outside.status == 2 && outside.stderr.contains("outside the 64 rows"), "\(outside.stderr)")
        let malformed = try CLI.run(["get", f, name, "--rows", "3", "--out", dir + "/m.npy"])
        #expect(malformed.status == 2 && malformed.stderr.contains("start:end"), "\(malformed.stderr)")
        #expect(CLIFixtures.temporaries(dir).isEmpty && !FileManager.default.fileExists(atPath: dir + "/r.npy"))
    }
}
