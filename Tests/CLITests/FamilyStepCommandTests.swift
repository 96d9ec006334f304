import Foundation
import Testing

/// `ckpt step` and `ckpt verify-step` on LLaMA- and GPT-NeoX-style checkpoints (which they
/// refused before the reference core was composed from parts): a synthetic checkpoint stepped
/// and certified, transformers' fixture steps certified and a wrong one rejected, and a stale
/// tensor-parallel shard of a LLaMA or NeoX step caught and named.
@Suite struct FamilyStepCommandTests {
    static let fixtures = StepCommandTests.repo + "/Tests/ReferenceCoreTests/Fixtures"

    @Test func synthesisedLlamaIsSteppedAndCertified() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.h5", b = dir + "/b.h5", batch = Self.fixtures + "/llama-fp32/batch.h5"
        let synth = try CLI.run([
            "synth", "--family", "llama", "--preset", "tiny", "--kv-heads", "1", "--dtype", "bf16", "--optimizer", "adamw", "--out", a,
        ])
        #expect(synth.status == 0, "synth: \(synth.stderr)")
        let step = try CLI.run(["step", "--before", a, "--batch", batch, "--out", b, "--json"])
        #expect(step.status == 0, "step: \(step.stdout)\(step.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(step.stdout.utf8)) as? [String: Any])
        #expect((s["loss"] as? Double).map { $0 > 0 && $0.isFinite } == true)
        for precision in ["fp32", "bf16"] {
            let v = try CLI.run(["verify-step", "--before", a, "--after", b, "--batch", batch, "--precision", precision])
            #expect(v.status == 0, "\(precision): \(v.stdout)\(v.stderr)")
        }
    }

    @Test(arguments: ["llama-fp32", "llama-bf16", "neox-fp32", "neox-bf16"])
    func transformersStepIsCertifiedAndAWrongOneRejected(_ fixture: String) throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = Self.fixtures + "/" + fixture, precision = String(fixture.split(separator: "-")[1])
        let args = ["--before", f + "/before.h5", "--batch", f + "/batch.h5", "--precision", precision, "--json"]
        let ok = try CLI.run(["verify-step", "--after", f + "/after.h5"] + args)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let bad = dir + "/swap.h5"
        let inject = try CLI.python([
            StepCommandTests.repo + "/tools/ref_inject_fault.py", "--fault", "swap-heads", "--before", f + "/before.h5", "--after",
            f + "/after.h5", "--out", bad,
        ])
        #expect(inject.status == 0, "inject: \(inject.stderr)")
        let r = try CLI.run(["verify-step", "--after", bad] + args)
        #expect(r.status == 1, "\(r.stdout)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let tensors = try #require(obj["tensors"] as? [[String: Any]])
        #expect(tensors.filter { $0["passed"] as? Bool == false }.compactMap { $0["name"] as? String } == ["layers.0.attn.q.weight"])
    }

    /// LLaMA through the megatron layout, NeoX through ckpt's HDF5 form of it (megatron-core's
    /// own formats refuse NeoX's parallel residual).
    @Test(arguments: ["llama-fp32", "llama-bf16", "neox-fp32", "neox-bf16"])
    func staleTensorParallelShardIsCaughtAndNamed(_ fixture: String) throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = Self.fixtures + "/" + fixture, precision = String(fixture.split(separator: "-")[1])
        let a = dir + "/A", b = dir + "/B", bad = dir + "/F", batch = f + "/batch.h5"
        // TP 2 splits LLaMA's 2 KV heads one per rank, NeoX's 4 heads two per rank.
        for (src, dst) in [("before.h5", a), ("after.h5", b)] {
            let r = try CLI.run(["convert", f + "/" + src, "--to", "megatron", "--tp", "2", "--pp", "1", "--out", dst])
            #expect(r.status == 0, "convert \(src): \(r.stderr)")
        }
        let clean = try CLI.run(["verify-step", "--before", a, "--after", b, "--batch", batch, "--precision", precision])
        #expect(clean.status == 0, "clean megatron step: \(clean.stdout)\(clean.stderr)")
        let inject = try CLI.python([
            StepCommandTests.repo + "/tools/ref_inject_fault.py", "--fault", "stale-shard", "--tp-rank", "1", "--pp-rank", "0",
            "--before", a, "--after", b, "--out", bad,
        ])
        #expect(inject.status == 0, "inject: \(inject.stderr)")
        let r = try CLI.run(["verify-step", "--before", a, "--after", bad, "--batch", batch, "--precision", precision])
        #expect(r.status == 1, "stale shard not rejected: \(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("mp_rank_01"), "the stale rank is not named: \(r.stdout)")
        #expect(!r.stdout.contains("mp_rank_00"), "the healthy rank 0 is blamed: \(r.stdout)")
        #expect(r.stdout.contains("FAIL layers."), "no sharded tensor failed: \(r.stdout)")
    }
}
