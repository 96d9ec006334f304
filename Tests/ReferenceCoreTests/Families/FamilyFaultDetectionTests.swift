import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// Every fault class of the GPT-2 verifier tests, injected into transformers' LLaMA and
/// GPT-NeoX steps (fp32 and bf16) by tools/ref_inject_fault.py, is detected and localised;
/// the verifier's zero-gradient rule follows the parts (whole k bias with learned positions,
/// only NeoX's pass-through dimensions with partial rotary).
@Suite struct FamilyFaultDetectionTests {
    struct Case: Sendable, CustomStringConvertible {
        var fixture: String
        var fault: String
        var description: String { "\(fixture) \(fault)" }
        var precision: String { String(fixture.split(separator: "-")[1]) }
    }

    static let cases: [Case] = FamilyAgreementTests.fixtures.flatMap { f in
        ["bitflip", "lr", "no-decay", "swap-heads", "stale-v", "no-clip", "wrong-batch"].map { Case(fixture: f, fault: $0) }
    }

    /// A batch of the fixture's shape with other tokens: every input id moved by one.
    static func otherBatch(_ fixture: String, to path: String) throws {
        var b = try BatchFile.read(path: Fixtures.path(fixture, "batch.h5"))
        b.inputs = b.inputs.map { ($0 + 1) % 96 }
        try BatchFile.write(b, to: path)
    }

    @Test(arguments: cases)
    func faultIsDetectedAndLocalised(_ c: Case) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = Fixtures.path(c.fixture, "before.h5"), after = Fixtures.path(c.fixture, "after.h5")
        var faulty = after, batch = Fixtures.path(c.fixture, "batch.h5")
        if c.fault == "wrong-batch" {
            // B is transformers' correct step, but on another batch than the one given.
            batch = dir + "/other.h5"
            try Self.otherBatch(c.fixture, to: batch)
        } else {
            faulty = dir + "/faulty.h5"
            let (status, stderr) = try Fixtures.runTool(
                "ref_inject_fault.py", ["--fault", c.fault, "--before", before, "--after", after, "--out", faulty])
            try #require(status == 0, "ref_inject_fault.py failed: \(stderr)")
        }
        let r = try PipelinedVerification.verify(
            StepVerifier(tolerances: try #require(VerifyTolerances.profile(c.precision))), before: before, after: faulty, batch: batch)
        #expect(!r.passed)
        let a = try CheckpointReader(path: before)
        let config = try #require(a.metadata.modelConfig), opt = try #require(a.metadata.optimizer)
        let architecture = try ModelArchitecture(config: config)
        // Tensors with at least one gradient-carrying element.
        let carrying = config.canonicalTensors().filter { t in
            architecture.zeroGradientRanges(t.name).map(\.count).reduce(0, +) < t.shape.reduce(1, *)
        }
        let failing = Set(r.failingTensors)
        switch c.fault {
        case "bitflip":
            #expect(r.failingTensors == ["layers.1.mlp.up.weight"], "\(r.summary())")
            #expect(r.tensors[0].worstElement?.hasPrefix("index 17:") == true || c.precision == "bf16")
        case "lr":
            #expect(failing == Set(carrying.map(\.name)), "\(r.summary(limit: 40))")
            let scales = r.tensors.compactMap { t in t.checks.first { $0.check == "update.scale" }?.value }
            #expect(scales.filter { abs($0 - 1.1) < 0.03 }.count > scales.count * 3 / 4, "\(scales)")
        case "no-decay":
            var decayed = Set(carrying.filter { opt.decay == "all" || $0.shape.count >= 2 }.map(\.name))
            if c.precision == "bf16" {
                // NeoX's k biases carry a gradient in only 16 small elements each; under bf16
                // the skipped decay (−lr·λ·θ ≈ 2e-6 there) is far inside the noise, and the
                // check's limit widens to 4 standard errors (> 1) instead of failing a step it
                // cannot judge.
                for t in r.tensors where !architecture.zeroGradientRanges(t.name).isEmpty && decayed.contains(t.name) {
                    let d = try #require(t.checks.first { $0.check == "update.decay_scale" })
                    #expect(d.limit > 1 && d.passed, "\(t.name): \(d.line)")
                    decayed.remove(t.name)
                }
            }
            #expect(failing == decayed, "\(r.summary(limit: 40))")
        case "swap-heads":
            #expect(r.failingTensors == ["layers.0.attn.q.weight"], "\(r.summary())")
        case "stale-v":
            #expect(r.failingTensors == ["layers.1.attn.v.weight"], "\(r.summary())")
            #expect(r.tensors[0].firstFailure?.check.hasPrefix("exp_avg_sq.") == true)
        case "no-clip":
            #expect(failing == Set(carrying.map(\.name)), "\(r.summary(limit: 40))")
            #expect(r.tensors.filter { !$0.passed }.allSatisfy { $0.firstFailure?.check.hasPrefix("exp_avg.") == true })
        case "wrong-batch":
            // The recorded loss differs beyond fp32's limit (a nearly untrained model has about
            // the same loss on any batch, within bf16's 2e-2); the gradients differ, so the
            // first moments of (nearly) every tensor disagree in both profiles.
            #expect(r.global.first { $0.check == "loss.relative_error" }?.passed == (c.precision == "bf16"), "\(r.summary())")
            #expect(r.global.first { $0.check == "step" }?.passed == true)
            #expect(failing.count > carrying.count * 3 / 4, "\(r.summary(limit: 40))")
            #expect(r.tensors.filter { !$0.passed }.allSatisfy { $0.firstFailure?.check.hasPrefix("exp_avg") == true })
        default:
            Issue.record("unknown fault \(c.fault)")
        }
    }

    @Test(arguments: ["neox-fp32", "neox-bf16"])
    func neoxKeyBiasIsCheckedWhereItCarriesAGradient(_ fixture: String) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = Fixtures.path(fixture, "before.h5"), after = Fixtures.path(fixture, "after.h5")
        let batch = Fixtures.path(fixture, "batch.h5"), target = "layers.0.attn.k.bias"
        let a = try CheckpointReader(path: before)
        let key = try CheckpointFileSource(path: before).describe(.optimizer("master", target)) != nil ? TensorKey.optimizer("master", target) : .model(target)
        let old = try a.readFloats(key)
        let config = try #require(a.metadata.modelConfig)
        let hd = config.headDim, rotated = Int(Double(hd) * config.rotaryPct)
        let tolerances = try #require(VerifyTolerances.profile(String(fixture.split(separator: "-")[1])))
        func verify(_ edit: @escaping (inout [Float]) -> Void) throws -> TensorVerdict {
            let f = dir + "/f-\(UUID().uuidString).h5"
            try TestCheckpoints.rewrite(
                after, to: f,
                edit: { k, v in
                    if k == key || k == .model(target) { edit(&v) }
                })
            let r = try StepVerifier(tolerances: tolerances).verify(
                before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: f), batchPath: batch)
            return try #require(r.tensors.first { $0.name == target })
        }
        // A rotated element left at its step-t value: its gradient is real, so this fails.
        let stale = try verify { v in v[1] = old[1] }
        #expect(!stale.passed, "\(stale.checks)")
        #expect(stale.checks.contains { $0.check == "update.relative_l2" && !$0.passed })
        // A pass-through element (zero exact gradient) stepped half as far the other way,
        // within the bound of a valid step: noise, so this passes.
        let lr = Float(try #require(a.metadata.optimizer).lr)
        let flipped = try verify { v in v[rotated] = old[rotated] - 0.5 * (v[rotated] - old[rotated]) }
        #expect(flipped.passed, "\(flipped.checks)")
        #expect(flipped.checks.contains { $0.check == "update.element_bound.zero_gradient" })
        // But one beyond the bound fails, named as the zero-gradient part.
        let far = try verify { v in v[rotated] = old[rotated] + 10 * lr }
        #expect(far.firstFailure?.check == "update.element_bound.zero_gradient", "\(far.checks)")
        #expect(rotated < hd)
    }
}
