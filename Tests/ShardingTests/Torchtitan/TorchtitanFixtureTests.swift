import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The checkpoint torchtitan 0.3.0 itself wrote (tools/make_torchtitan_fixture.py: FSDP2 over 2
/// gloo ranks, 2 AdamW steps, CheckpointManager.save) imports bit for bit: every canonical
/// tensor and Adam moment has the fingerprint computed in Python with torchtitan's own HF
/// adapter (its per-head q/k permutation) and FusedQKVLinear's split, and the step, optimizer
/// settings and trainer state come through.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: InteropFixtures.root + "/dcp-torchtitan-llama/expected.json"), "torchtitan fixture missing"))
struct TorchtitanFixtureTests {
    static let root = InteropFixtures.root + "/dcp-torchtitan-llama"
    static let step = root + "/checkpoint/step-2"
    static let job = root + "/job_config.json"

    private func hex(_ bytes: [UInt8]) -> String {
        let s = String(bytes.withUnsafeBytes { XXH3.hash($0) }, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    private func expected() throws -> [String: Any] { try InteropFixtures.expected("dcp-torchtitan-llama") }

    @Test func recognisedAsTorchtitanWithOrWithoutTheJobConfig() {
        #expect(FormatRegistry.all(torchtitanConfig: Self.job).sourceFormat(for: Self.step)?.name == "torchtitan")
        #expect(FormatRegistry.all().sourceFormat(for: Self.step)?.name == "torchtitan")
        #expect(!DCPFormats.recognizes(Self.step))
        #expect(!TorchtitanFormats.recognizes(InteropFixtures.root + "/dcp-state-dict", jobConfigGiven: true))
    }

    @Test func theJobConfigTorchtitanWroteGivesTheModel() throws {
        let job = try TorchtitanJobConfig.read(path: Self.job)
        let want = try #require(try expected()["model_config"] as? [String: Any])
        let m = job.model
        #expect(m.family == "llama" && m.layers == want["layers"] as? Int && m.hidden == want["hidden"] as? Int)
        #expect(m.heads == want["heads"] as? Int && m.kvHeads == want["kv_heads"] as? Int && m.ffn == want["ffn"] as? Int)
        #expect(m.vocab == want["vocab"] as? Int && m.maxSeq == want["max_seq"] as? Int && m.normEps == want["norm_eps"] as? Double)
        #expect(m.ropeTheta == want["rope_theta"] as? Double && !m.tieEmbeddings && !m.bias && m.activation == "swiglu")
        #expect(job.maxNorm == 1.0 && job.optimizerNames == ["AdamW"] && job.flavor == "ckpt-fixture")
    }

    @Test func theContainerReadsEveryTensorTorchtitanHeld() throws {
        let (c, _) = try TorchtitanCheckpoint.open(Self.step, job: try TorchtitanJobConfig.read(path: Self.job))
        let raw = try DCPCheckpoint(path: Self.step)
        let want = try #require(try expected()["tensors"] as? [String: [String: Any]])
        #expect(raw.tensors.count == want.count)
        for t in raw.tensors { #expect(hex(try raw.readAll(t.key)) == want[t.key.name]?["xxh3_64"] as? String, "\(t.key.name)") }
        // The model tensors are the DCP tensors under their FQNs; wqkv's moments are split.
        #expect(hex(try c.readAll(.model("layers.1.attention.qkv_linear.wk.weight"))) == want["layers.1.attention.qkv_linear.wk.weight"]?["xxh3_64"] as? String)
        #expect(c.describe(.optimizer("exp_avg", "layers.1.attention.qkv_linear.wk.weight"))?.shape == [32, 64])
        #expect(c.describe(.optimizer("exp_avg", "layers.1.attention.qkv_linear.wqkv.weight")) == nil)
    }

    @Test func toWaferBitExactWithAdamState() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = ConvertOptions()
        options.writer.threads = 2
        let report = try Converter(options: options, formats: .all(torchtitanConfig: Self.job)).convert(Self.step, to: .wafer, output: dir + "/w.h5")
        #expect(report.sourceFormat == "torchtitan" && report.droppedSections.isEmpty)
        let e = try expected()
        let canonical = try #require(e["canonical"] as? [String: [String: [String: Any]]])
        let r = try CheckpointReader(path: dir + "/w.h5")
        var seen = 0
        for t in r.tensors {
            let want = try #require(canonical[t.key.section]?[t.key.name], "\(t.key)")
            #expect(hex(try r.read(t.key).bytes) == want["xxh3_64"] as? String, "\(t.key)")
            seen += 1
        }
        #expect(seen == canonical.values.map(\.count).reduce(0, +) && canonical.count == 3)
        #expect(r.metadata.step == Int64(try #require(e["step"] as? Int)))
        let o = try #require(r.metadata.optimizer)
        let want = try #require(e["optimizer"] as? [String: Any])
        #expect(o.variant == "torch" && o.decay == "all" && o.lr == want["lr"] as? Double && o.eps == want["eps"] as? Double)
        #expect([o.beta1, o.beta2] == want["betas"] as? [Double] && o.weightDecay == want["weight_decay"] as? Double && o.gradClip == 1.0)
        let user = try #require(try JSONSerialization.jsonObject(with: Data((r.metadata.userJSON ?? "").utf8)) as? [String: Any])
        let titan = try #require(user["torchtitan"] as? [String: Any])
        let train = try #require(titan["train_state"] as? [String: Any])
        let wantTrain = try #require(e["train_state"] as? [String: Any])
        #expect(train["step"] as? Int == wantTrain["step"] as? Int && train["ntokens_seen"] as? Int == wantTrain["ntokens_seen"] as? Int)
        #expect((titan["lr_scheduler"] as? [String: Any])?["last_epoch"] as? Int == 2 && titan.keys.contains("dataloader"))
        let groups = try #require(titan["param_groups"] as? [[String: Any]])
        #expect(groups.count == 1 && (groups[0]["params"] as? [String])?.count == 17)
    }

    @Test func toHFGivesTheCanonicalModelTensors() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try Converter(formats: .all(torchtitanConfig: Self.job)).convert(Self.step, to: .hf, output: dir + "/hf")
        #expect(report.droppedSections.sorted() == ["optimizer/exp_avg", "optimizer/exp_avg_sq"])
        #expect(report.notes.contains { $0.contains("torchtitan") })
        let view = try CanonicalView(source: CheckpointSource(path: dir + "/hf", formats: .all()))
        let want = try #require((try expected()["canonical"] as? [String: Any])?["model"] as? [String: [String: Any]])
        #expect(Set(view.tensors.map(\.key.name)) == Set(want.keys))
        for t in view.tensors { #expect(hex(try view.readAll(t.key)) == want[t.key.name]?["xxh3_64"] as? String, "\(t.key)") }
    }
}
