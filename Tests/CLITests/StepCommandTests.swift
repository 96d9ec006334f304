import Foundation
import Testing

/// End-to-end tests of `ckpt step` and `ckpt verify-step` on the PyTorch fp32 fixture
/// (Tests/ReferenceCoreTests/Fixtures/fp32), including fault (f): a stale TP shard in a
/// Megatron after-checkpoint, injected by `tools/ref_inject_fault.py`.
@Suite struct StepCommandTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixture = repo + "/Tests/ReferenceCoreTests/Fixtures/fp32"

    func python(_ args: [String]) throws -> CLIResult { try CLI.python(args) }

    /// Rank files (`.h5`) under a Megatron checkpoint directory, relative to it.
    func rankFiles(_ dir: String) -> [String] {
        let all = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? []
        return all.filter { $0.hasSuffix(".h5") }.sorted()
    }

    @Test func staleTensorParallelShardIsCaughtAndNamed() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/A", b = dir + "/B", f = dir + "/F"
        for (src, dst) in [("before.h5", a), ("after.h5", b)] {
            let r = try CLI.run(["convert", Self.fixture + "/" + src, "--to", "megatron", "--tp", "2", "--pp", "1", "--out", dst])
            #expect(r.status == 0, "convert \(src): \(r.stderr)")
        }
        let batch = Self.fixture + "/batch.h5"

        // The clean Megatron pair passes.
        let clean = try CLI.run(["verify-step", "--before", a, "--after", b, "--batch", batch])
        #expect(clean.status == 0, "clean megatron step: \(clean.stdout)\(clean.stderr)")

        // TP rank 1 saved stale (its step-t tensors under step-(t+1) metadata).
        let inject = try python([
            Self.repo + "/tools/ref_inject_fault.py", "--fault", "stale-shard", "--tp-rank", "1", "--pp-rank", "0",
            "--before", a, "--after", b, "--out", f,
        ])
        #expect(inject.status == 0, "inject: \(inject.stderr)")
        let staleRank = try #require(rankFiles(f).first { $0.contains("mp_rank_01") }, "no rank-1 file in \(rankFiles(f))")
        let staleName = URL(fileURLWithPath: staleRank).lastPathComponent
        let staleDir = URL(fileURLWithPath: staleRank).deletingLastPathComponent().lastPathComponent

        let faulty = try CLI.run(["verify-step", "--before", a, "--after", f, "--batch", batch])
        #expect(faulty.status == 1, "stale shard not rejected: \(faulty.stdout)\(faulty.stderr)")
        #expect(faulty.stdout.contains("FAIL"), "\(faulty.stdout)")
        #expect(faulty.stdout.contains("\(staleDir)/\(staleName)") || faulty.stdout.contains(staleRank), "stale rank file not named: \(faulty.stdout)")
        #expect(!faulty.stdout.contains("mp_rank_00"), "the healthy rank 0 is blamed: \(faulty.stdout)")
        // The sharded tensors assembled from the stale rank fail their own checks too.
        #expect(faulty.stdout.contains("FAIL layers."), "no sharded tensor failed: \(faulty.stdout)")

        // The JSON report says the same.
        let json = try CLI.run(["verify-step", "--before", a, "--after", f, "--batch", batch, "--json"])
        #expect(json.status == 1)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(obj["passed"] as? Bool == false)
        #expect(json.stdout.contains(staleDir), "stale rank not named in JSON")
    }

    @Test func stepThenVerifyStepOnItsOwnOutputPasses() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/after.h5", batch = Self.fixture + "/batch.h5", before = Self.fixture + "/before.h5"
        let step = try CLI.run(["step", "--before", before, "--batch", batch, "--out", out, "--json"])
        #expect(step.status == 0, "step: \(step.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(step.stdout.utf8)) as? [String: Any], "step JSON: \(step.stdout)")
        let loss = try #require(s["loss"] as? Double)
        #expect(loss.isFinite && loss > 0)
        #expect(s["output"] as? String == out)
        #expect((s["step"] as? NSNumber)?.int64Value ?? -1 >= 1)
        #expect((s["grad_norm"] as? Double).map { $0 > 0 } == true)
        #expect(FileManager.default.fileExists(atPath: out))

        let v = try CLI.run(["verify-step", "--before", before, "--after", out, "--batch", batch, "--json"])
        #expect(v.status == 0, "verify-step on ckpt step's own output: \(v.stdout)\(v.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(v.stdout.utf8)) as? [String: Any], "verify JSON: \(v.stdout)")
        #expect(r["passed"] as? Bool == true)

        // The text form agrees, and a wrong learning-rate step from the same output fails.
        let text = try CLI.run(["verify-step", "--before", before, "--after", out, "--batch", batch])
        #expect(text.status == 0)
        let lr = dir + "/lr.h5"
        let inject = try python([Self.repo + "/tools/ref_inject_fault.py", "--fault", "lr", "--before", before, "--after", out, "--out", lr])
        #expect(inject.status == 0, "inject: \(inject.stderr)")
        let bad = try CLI.run(["verify-step", "--before", before, "--after", lr, "--batch", batch])
        #expect(bad.status == 1, "lr x1.1 not rejected: \(bad.stdout)")
    }

    @Test func stepReportsUsageErrorsWithExitTwo() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["step", "--before", dir + "/missing.h5", "--batch", Self.fixture + "/batch.h5", "--out", dir + "/o.h5"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("missing.h5"))
    }
}
