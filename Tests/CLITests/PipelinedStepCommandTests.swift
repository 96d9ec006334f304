import Foundation
import Testing

/// `ckpt step` and `ckpt verify-step` as a pipeline in bounded memory (`--memory-budget`,
/// `--resident-blocks`, `--clipping`): the plan and peak RSS in `--json`, the same figures as
/// in memory, Megatron directories read in place, and a budget below the smallest pipeline
/// refused before any work.
@Suite struct PipelinedStepCommandTests {
    static let fixtures = FamilyStepCommandTests.fixtures

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: ["spill", "two-pass"])
    func verifyStepReportsItsPlanAndTheSameFigures(_ clipping: String) throws {
        let f = Self.fixtures + "/neox-fp32"
        let args = ["verify-step", "--before", f + "/before.h5", "--after", f + "/after.h5", "--batch", f + "/batch.h5", "--json"]
        let whole = try CLI.run(args)
        #expect(whole.status == 0, "\(whole.stdout)\(whole.stderr)")
        let piped = try CLI.run(args + ["--resident-blocks", "1", "--clipping", clipping])
        #expect(piped.status == 0, "\(piped.stdout)\(piped.stderr)")
        let (w, p) = (try Self.json(whole.stdout), try Self.json(piped.stdout))
        #expect((w["plan"] as? [String: Any])?["mode"] as? String == "in-memory")
        let plan = try #require(p["plan"] as? [String: Any])
        #expect(plan["mode"] as? String == clipping)
        #expect(plan["stages"] as? Int == 2 && plan["resident_blocks"] as? Int == 1)
        #expect((p["peak_rss_bytes"] as? Int).map { $0 > 1 << 20 } == true)
        for key in ["reference_loss", "grad_norm", "clip_coefficient"] {
            #expect((w[key] as? Double) == (p[key] as? Double), "\(key)")
        }
        let text = try CLI.run(Array(args.dropLast()) + ["--resident-blocks", "1", "--clipping", clipping])
        #expect(text.stdout.contains("memory: \(clipping), 2 stages of 1 blocks"), "\(text.stdout)")
    }

    /// A and B as Megatron directories (ckpt's HDF5 layout, TP 2), read in place by stage.
    @Test func megatronDirectoriesAreVerifiedAsAPipeline() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = Self.fixtures + "/llama-fp32"
        for (src, dst) in [("before.h5", dir + "/A"), ("after.h5", dir + "/B")] {
            let r = try CLI.run(["convert", f + "/" + src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", dst])
            #expect(r.status == 0, "convert: \(r.stderr)")
        }
        let v = try CLI.run([
            "verify-step", "--before", dir + "/A", "--after", dir + "/B", "--batch", f + "/batch.h5", "--json", "--resident-blocks", "1",
        ])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        let plan = try #require(try Self.json(v.stdout)["plan"] as? [String: Any])
        #expect(plan["stages"] as? Int == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["A", "B"])
    }

    @Test func stepWithinABudgetWritesTheSameCheckpoint() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = Self.fixtures + "/llama-bf16"
        let base = ["step", "--before", f + "/before.h5", "--batch", f + "/batch.h5", "--json"]
        let whole = try CLI.run(base + ["--out", dir + "/whole.h5"])
        let piped = try CLI.run(base + ["--out", dir + "/piped.h5", "--resident-blocks", "1", "--scratch-dir", dir])
        #expect(whole.status == 0 && piped.status == 0, "\(whole.stderr)\(piped.stderr)")
        let p = try Self.json(piped.stdout)
        #expect((p["plan"] as? [String: Any])?["mode"] as? String == "spill")
        #expect((try Self.json(whole.stdout)["loss"] as? Double) == (p["loss"] as? Double))
        // Every tensor identical: B of one certifies as B of the other with zero error.
        for out in ["whole.h5", "piped.h5"] {
            let v = try CLI.run([
                "verify-step", "--before", f + "/before.h5", "--after", dir + "/" + out, "--batch", f + "/batch.h5", "--precision", "fp32",
                "--update-rtol", "0", "--state-rtol", "0",
            ])
            #expect(v.status == 0, "\(out): \(v.stdout)")
        }
    }

    @Test func aBudgetBelowTheSmallestPipelineIsRefused() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = Self.fixtures + "/fp32"
        let r = try CLI.run(["step", "--before", f + "/before.h5", "--batch", f + "/batch.h5", "--out", dir + "/b.h5", "--memory-budget", "1MiB"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("memory budget") && r.stderr.contains("--memory-budget"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/b.h5"))
        let bad = try CLI.run(["verify-step", "--before", f + "/before.h5", "--after", f + "/after.h5", "--batch", f + "/batch.h5", "--resident-blocks", "0"])
        #expect(bad.status == 2)
    }
}
