import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// Faults injected by tools/ref_inject_fault.py into the PyTorch fixtures are detected and
/// localised, on the fp32 and on the bf16 step.
@Suite struct FaultDetectionTests {
    struct Case: Sendable, CustomStringConvertible {
        var precision: String
        var fault: String
        var description: String { "\(precision) \(fault)" }
    }

    static let cases: [Case] = ["fp32", "bf16"].flatMap { p in
        ["bitflip", "lr", "no-decay", "swap-heads", "stale-v", "no-clip"].map { Case(precision: p, fault: $0) }
    }

    @Test(arguments: cases)
    func faultIsDetectedAndLocalised(_ c: Case) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = Fixtures.path(c.precision, "before.h5"), after = Fixtures.path(c.precision, "after.h5")
        let faulty = dir + "/faulty.h5"
        let (status, stderr) = try Fixtures.runTool(
            "ref_inject_fault.py", ["--fault", c.fault, "--before", before, "--after", after, "--out", faulty])
        try #require(status == 0, "ref_inject_fault.py failed: \(stderr)")
        let r = try PipelinedVerification.verify(
            StepVerifier(tolerances: VerifyTolerances.profile(c.precision)!), before: before, after: faulty,
            batch: Fixtures.path(c.precision, "batch.h5"))
        #expect(!r.passed)
        let config = try #require(CheckpointReader(path: before).metadata.modelConfig)
        let opt = try #require(CheckpointReader(path: before).metadata.optimizer)
        let gradientCarrying = config.canonicalTensors().map(\.name).filter { !StepVerifier.hasZeroExactGradient($0) }
        let failing = Set(r.failingTensors)
        switch c.fault {
        case "bitflip":
            #expect(r.failingTensors == ["layers.1.mlp.up.weight"], "\(r.summary())")
            #expect(r.tensors[0].worstElement?.hasPrefix("index 17:") == true || c.precision == "bf16")
        case "lr":
            #expect(failing == Set(gradientCarrying), "\(r.summary(limit: 40))")
            let scales = r.tensors.compactMap { t in t.checks.first { $0.check == "update.scale" }?.value }
            #expect(scales.filter { abs($0 - 1.1) < 0.03 }.count > scales.count * 3 / 4, "\(scales)")
        case "no-decay":
            let decayed = config.canonicalTensors().filter { opt.decay == "all" || $0.shape.count >= 2 }.map(\.name)
                .filter { !StepVerifier.hasZeroExactGradient($0) }
            #expect(failing == Set(decayed), "\(r.summary(limit: 40))")
        case "swap-heads":
            #expect(r.failingTensors == ["layers.0.attn.q.weight"], "\(r.summary())")
        case "stale-v":
            #expect(r.failingTensors == ["layers.1.attn.v.weight"], "\(r.summary())")
            #expect(r.tensors[0].firstFailure?.check.hasPrefix("exp_avg_sq.") == true)
        case "no-clip":
            #expect(failing == Set(gradientCarrying), "\(r.summary(limit: 40))")
            #expect(r.tensors.filter { !$0.passed }.allSatisfy { $0.firstFailure?.check.hasPrefix("exp_avg.") == true })
        default:
            Issue.record("unknown fault \(c.fault)")
        }
    }

    @Test func injectorRejectsAStepWithoutClipping() throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, stderr) = try Fixtures.runTool(
            "ref_inject_fault.py",
            [
                "--fault", "no-clip", "--before", Fixtures.path("fp32", "before.h5"), "--after", Fixtures.path("fp32", "after.h5"),
                "--out", dir + "/f.h5", "--grad-norm", "0.5",
            ])
        #expect(status == 2)
        #expect(stderr.contains("clipping was not active"))
    }
}
