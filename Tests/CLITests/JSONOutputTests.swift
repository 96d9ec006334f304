import Foundation
import Testing

/// Issue 9 item 16: with `--json` every command prints exactly one JSON document on every exit
/// — failures included — with `ok`, `verdict`, `exit_code`, the same keys for the same things
/// (`path` input, `output` written), `layout` as an object and absent values as `null`.
@Suite struct JSONOutputTests {
    @Test func verifyStepOnADamagedAfterCheckpointPrintsAnErrorDocument() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let after = dir + "/after.h5"
        try FileManager.default.copyItem(atPath: CLIFixtures.fixture + "/after.h5", toPath: after)
        // Cut short: the fixture stores its tensors contiguously, so truncation is the damage.
        let whole = try Data(contentsOf: URL(fileURLWithPath: after))
        try whole.prefix(whole.count * 2 / 3).write(to: URL(fileURLWithPath: after))
        let r = try CLI.run([
            "verify-step", "--before", CLIFixtures.fixture + "/before.h5", "--after", after, "--batch", CLIFixtures.fixture + "/batch.h5",
            "--json",
        ])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let doc = try CLIFixtures.json(r)
        #expect(doc["verdict"] as? String == "error")
        #expect(doc["ok"] as? Bool == false)
        #expect(doc["exit_code"] as? Int == 1)
        #expect((doc["error"] as? String)?.contains("after.h5") == true, "\(doc)")
    }

    /// Failures of every kind, each one JSON error document with the exit code it exits with.
    @Test(arguments: [
        (["info", "MISSING", "--json"], 2),
        (["ls", "EMPTY", "--json"], 1),
        (["get", "TINY", "no.such.tensor", "--out", "OUT", "--json"], 2),
        (["synth", "--preset", "nope", "--out", "OUT", "--json"], 2),
        (["synth", "--no-such-flag", "--json"], 2),
        (["convert", "MISSING", "--to", "wafer", "--out", "OUT", "--json"], 2),
        (["step", "--before", "EMPTY", "--batch", "EMPTY", "--out", "OUT", "--json"], 1),
        (["bench", "read", "MISSING", "--json"], 2),
    ])
    func everyFailureIsOneJSONDocument(args: [String], code: Int) throws {
        let dir = CLI.tempDir("json" + args.joined())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = dir + "/empty.h5"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let tiny = args.contains("TINY") ? try CLIFixtures.tiny(dir) : ""
        let argv = args.map { ["MISSING": dir + "/missing.h5", "EMPTY": empty, "OUT": dir + "/out", "TINY": tiny][$0] ?? $0 }
        let r = try CLI.run(argv)
        #expect(Int(r.status) == code, "\(argv): \(r.stdout)\(r.stderr)")
        let doc = try CLIFixtures.json(r)
        #expect(doc["verdict"] as? String == "error", "\(doc)")
        #expect(doc["exit_code"] as? Int == code)
        #expect(doc["ok"] as? Bool == false)
        #expect((doc["error"] as? String)?.isEmpty == false)
        #expect(!(doc["error"] as? String ?? "").contains("Error("), "Swift type in message: \(doc)")
    }

    @Test func successDocumentsShareKeysAndShowAllMetadata() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/t.h5"
        let s = try CLIFixtures.json(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f, "--json"]))
        #expect(s["output"] as? String == f && s["verdict"] as? String == "ok" && s["exit_code"] as? Int == 0)

        let info = try CLIFixtures.json(try CLI.run(["info", f, "--json"]))
        #expect(info["path"] as? String == f)
        #expect((info["layout"] as? [String: Any])?["kind"] as? String == "wafer", "layout is not an object: \(info["layout"] ?? "")")
        #expect(info["user_metadata"] is NSNull, "absent user_metadata is not null")
        #expect((info["writer"] as? String)?.hasPrefix("ckpt") == true)
        #expect(info["created"] is String)
        #expect((info["rng"] as? [String: Int])?.isEmpty == false, "\(info["rng"] ?? "")")

        let ls = try CLIFixtures.json(try CLI.run(["ls", f, "--json"]))
        #expect(ls["path"] as? String == f)
        let row = try #require((ls["tensors"] as? [[String: Any]])?.first)
        #expect(row["rank"] is NSNull)

        let g = try CLIFixtures.json(try CLI.run(["get", f, "layers.0.attn.q.weight", "--out", dir + "/q.npy", "--json"]))
        #expect(g["path"] as? String == f && g["output"] as? String == dir + "/q.npy")

        let c = try CLIFixtures.json(try CLI.run(["convert", f, "--to", "megatron", "--tp", "1", "--pp", "1", "--out", dir + "/m", "--json"]))
        #expect(c["path"] as? String == f && c["output"] as? String == dir + "/m")

        let v = try CLIFixtures.json(try CLI.run(["verify", f, "--json"]))
        #expect(v["verdict"] as? String == "ok")
        #expect(((v["files"] as? [[String: Any]])?.first?["path"]) as? String == f)
    }

    @Test func userMetadataIsParsedJSON() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/after.h5"
        let s = try CLI.run([
            "step", "--before", CLIFixtures.fixture + "/before.h5", "--batch", CLIFixtures.fixture + "/batch.h5", "--out", out, "--json",
        ])
        #expect(s.status == 0, "\(s.stderr)")
        let step = try CLIFixtures.json(s)
        #expect(step["output"] as? String == out && step["before"] as? String == CLIFixtures.fixture + "/before.h5")
        let info = try CLIFixtures.json(try CLI.run(["info", out, "--json"]))
        let user = try #require(info["user_metadata"] as? [String: Any], "user_metadata: \(info["user_metadata"] ?? "missing")")
        #expect(!user.isEmpty)
    }

    @Test func absentValuesInReportsAreNull() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = dir + "/empty.h5"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let r = try CLI.run(["verify", empty, "--json"])
        #expect(r.status == 1)
        let doc = try CLIFixtures.json(r)
        #expect(doc["verdict"] as? String == "fail")
        let failure = try #require(((doc["files"] as? [[String: Any]])?.first?["failures"] as? [[String: Any]])?.first)
        #expect(failure["tensor"] is NSNull, "file-level failure has no explicit null tensor: \(failure)")
    }
}
