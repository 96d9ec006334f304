import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// `StepVerifier` on steps produced by `ReferenceStep`, clean and with faults.
@Suite struct StepVerifierTests {
    let config = TestModels.tiny(tied: true)
    let opt = OptimizerConfig(variant: "torch", lr: 0.001, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 0.5, decay: "matrices")

    /// Writes A (step 3), the batch, and the clean B; returns the directory.
    func setUp(dtype: DType = .float32) throws -> String {
        let dir = TestModels.temporaryDirectory()
        try TestCheckpoints.write(config, optimizer: opt, step: 3, dtype: dtype, to: dir + "/a.h5")
        try BatchFile.write(TestModels.batch(config, b: 2, t: 6, seed: 4, ignored: [0]), to: dir + "/batch.h5")
        _ = try ReferenceStep.run(
            before: CheckpointFileSource(path: dir + "/a.h5"), batchPath: dir + "/batch.h5", out: dir + "/b.h5",
            options: WriterOptions(codec: .none, threads: 1))
        return dir
    }

    func verify(_ dir: String, _ after: String, _ tol: VerifyTolerances = .fp32) throws -> StepVerificationReport {
        try StepVerifier(tolerances: tol).verify(
            before: CheckpointFileSource(path: dir + "/a.h5"), after: CheckpointFileSource(path: dir + "/" + after),
            batchPath: dir + "/batch.h5")
    }

    /// A step computed with a different optimizer setting, stored with the original metadata.
    func stepWith(_ dir: String, _ change: (inout OptimizerConfig) -> Void, out: String) throws {
        try TestCheckpoints.rewrite(dir + "/a.h5", to: dir + "/a-mod.h5", meta: { change(&$0.optimizer!) })
        _ = try ReferenceStep.run(before: CheckpointFileSource(path: dir + "/a-mod.h5"), batchPath: dir + "/batch.h5", out: dir + "/tmp.h5")
        try TestCheckpoints.rewrite(dir + "/tmp.h5", to: dir + "/" + out, meta: { $0.optimizer = opt })
    }

    @Test(arguments: [DType.float32, .bfloat16])
    func cleanStepPasses(_ dtype: DType) throws {
        let dir = try setUp(dtype: dtype)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for tol in [VerifyTolerances.fp32, .bf16] {
            let r = try verify(dir, "b.h5", tol)
            #expect(r.passed, "\(r.summary())")
            #expect(r.global.contains { $0.check == "loss.relative_error" && $0.value < 1e-12 })
            #expect(r.clipCoefficient < 1)
        }
        let report = try verify(dir, "b.h5")
        let json = try StepVerificationReport.jsonEncoder().encode(report)
        let back = try StepVerificationReport.jsonDecoder().decode(StepVerificationReport.self, from: json)
        #expect(back.passed && back.tensors.count == config.canonicalTensors().count)
        #expect(String(decoding: json, as: UTF8.self).contains("\"verdict\" : \"pass\""))
    }

    @Test func exponentBitFlipIsLocalised() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = "layers.1.mlp.up.weight"
        try TestCheckpoints.rewrite(
            dir + "/b.h5", to: dir + "/f.h5",
            edit: { key, v in
                if key == .model(target) { v[17] = Float(bitPattern: v[17].bitPattern ^ (1 << 30)) }
            })
        let r = try verify(dir, "f.h5")
        #expect(!r.passed)
        #expect(r.failingTensors == [target], "\(r.summary())")
        #expect(r.tensors[0].worstElement?.hasPrefix("index 17:") == true)
    }

    @Test func learningRateTimesOnePointOneIsCaught() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try stepWith(dir, { $0.lr *= 1.1 }, out: "f.h5")
        let r = try verify(dir, "f.h5")
        #expect(!r.passed)
        let scales = r.tensors.compactMap { t in t.checks.first { $0.check == "update.scale" }?.value }
        #expect(scales.filter { abs($0 - 1.1) < 0.02 }.count > scales.count / 2, "\(r.summary())")
        #expect(r.tensors.filter { !$0.passed }.count == r.tensors.filter { !StepVerifier.hasZeroExactGradient($0.name) }.count)
    }

    @Test func skippedWeightDecayIsCaughtOnDecayedTensorsOnly() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try stepWith(dir, { $0.weightDecay = 0 }, out: "f.h5")
        let r = try verify(dir, "f.h5")
        #expect(!r.passed)
        let decayed = Set(config.canonicalTensors().filter { $0.shape.count >= 2 }.map(\.name))
        #expect(Set(r.failingTensors) == decayed, "\(r.summary(limit: 40))")
    }

    @Test func swappedHeadsAreLocalised() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = "layers.0.attn.q.weight", hd = config.headDim, c = config.hidden
        try TestCheckpoints.rewrite(
            dir + "/b.h5", to: dir + "/f.h5",
            edit: { key, v in
                guard key == .model(target) else { return }
                for row in 0..<hd { for j in 0..<c { v.swapAt(row * c + j, (hd + row) * c + j) } }
            })
        let r = try verify(dir, "f.h5")
        #expect(r.failingTensors == [target], "\(r.summary())")
    }

    @Test func staleSecondMomentIsCaught() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try CheckpointReader(path: dir + "/a.h5")
        let target = "layers.1.attn.v.weight"
        let old = try a.readFloats(.optimizer("exp_avg_sq", target))
        try TestCheckpoints.rewrite(
            dir + "/b.h5", to: dir + "/f.h5",
            edit: { key, v in
                if key == .optimizer("exp_avg_sq", target) { v = old }
            })
        let r = try verify(dir, "f.h5")
        #expect(r.failingTensors == [target], "\(r.summary())")
        #expect(r.tensors[0].firstFailure?.check.hasPrefix("exp_avg_sq") == true)
    }

    @Test func skippedClippingIsCaught() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try stepWith(dir, { $0.gradClip = 0 }, out: "f.h5")
        let r = try verify(dir, "f.h5")
        #expect(!r.passed)
        #expect(r.tensors.filter { !$0.passed }.count > r.tensors.count / 2, "\(r.summary())")
        #expect(r.tensors[0].firstFailure?.check.hasPrefix("exp_avg") == true)
    }

    @Test func wrongLossAndStepAreGlobalFailures() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestCheckpoints.rewrite(
            dir + "/b.h5", to: dir + "/f.h5",
            meta: { m in
                m.userJSON = StepRecord.userJSON(merging: m.userJSON, loss: 99, gradNorm: 1)
                m.step = 7
            })
        let r = try verify(dir, "f.h5")
        #expect(!r.passed)
        #expect(r.tensors.allSatisfy { $0.passed })
        #expect(Set(r.global.filter { !$0.passed }.map(\.check)) == ["step", "loss.relative_error"])
    }
}

extension StepVerifierTests {
    @Test func failingReportEncodesInfiniteSeverities() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestCheckpoints.rewrite(dir + "/b.h5", to: dir + "/f.h5", meta: { $0.step = 9 })
        let r = try verify(dir, "f.h5")
        let text = r.jsonText(pretty: false)
        #expect(text.contains("\"verdict\":\"fail\""))
        #expect(text.contains("\"inf\""))
        let back = try StepVerificationReport.jsonDecoder().decode(StepVerificationReport.self, from: Data(text.utf8))
        #expect(!back.passed)
    }
}

extension StepVerifierTests {
    @Test func streamingInSmallBlocksGivesTheSameVerdicts() throws {
        let dir = try setUp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = "embed.tokens.weight"
        try TestCheckpoints.rewrite(
            dir + "/b.h5", to: dir + "/f.h5",
            edit: { key, v in
                if key == .model(target) { v[50] = Float(bitPattern: v[50].bitPattern ^ (1 << 30)) }
            })
        func run(_ block: Int) throws -> StepVerificationReport {
            try StepVerifier(tolerances: .fp32, streamElements: block).verify(
                before: CheckpointFileSource(path: dir + "/a.h5"), after: CheckpointFileSource(path: dir + "/f.h5"),
                batchPath: dir + "/batch.h5")
        }
        let whole = try run(1 << 22), blocks = try run(24)  // 3 rows of 8 per block
        #expect(whole.failingTensors == [target] && blocks.failingTensors == [target])
        #expect(whole.tensors[0].worstElement == blocks.tensors[0].worstElement)
        #expect(blocks.tensors[0].worstElement?.hasPrefix("index 50:") == true)
        for (x, y) in zip(whole.tensors, blocks.tensors) {
            #expect(x.name == y.name)
            for (c, d) in zip(x.checks, y.checks) {
                #expect(c.check == d.check && abs(c.value - d.value) <= 1e-9 * max(1, abs(c.value)), "\(x.name) \(c.check)")
            }
        }
    }
}
