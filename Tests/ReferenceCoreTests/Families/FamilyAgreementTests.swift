import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// The composed core against transformers' LlamaForCausalLM and GPTNeoXForCausalLM on the
/// committed fixtures (tools/ref_make_family_fixtures.py; llama3-fp32 is LLaMA with Llama 3.1
/// RoPE scaling): loss and gradients of the fp32 step,
/// the bf16 autocast step within bf16's own noise, and PyTorch's after-checkpoints certified.
@Suite struct FamilyAgreementTests {
    static let fixtures = ["llama-fp32", "llama-bf16", "neox-fp32", "neox-bf16", "llama3-fp32"]

    /// (loss relative, gradient relative L2) limits: fp32 as the issue asks; bf16 fixtures hold
    /// transformers' autocast gradients, which differ from fp32 ones by bf16 rounding.
    static func limits(_ fixture: String) -> (loss: Double, gradient: Double) {
        fixture.hasSuffix("fp32") ? (1e-6, 1e-5) : (1e-3, 0.05)
    }

    @Test(arguments: fixtures)
    func lossAndGradientsMatchTransformers(_ fixture: String) throws {
        try compare(fixture, gradients: "grads.h5", limits: Self.limits(fixture))
    }

    /// The bf16 fixtures' `grads_fp32.h5`: transformers' float32 (no autocast) loss and
    /// gradients of exactly the stored bf16 parameters — the same computation as the core's, so
    /// the fp32 limits hold for bf16 checkpoints too.
    @Test(arguments: ["llama-bf16", "neox-bf16"])
    func bf16LossAndGradientsMatchTransformersInFloat32(_ fixture: String) throws {
        try compare(fixture, gradients: "grads_fp32.h5", limits: (1e-6, 1e-5))
    }

    /// The float32 reference differs measurably from the autocast one, so the test above checks
    /// the computation it names and not a copy of grads.h5.
    @Test(arguments: ["llama-bf16", "neox-bf16"])
    func float32ReferenceIsNotTheAutocastOne(_ fixture: String) throws {
        let exact = try CheckpointReader(path: Fixtures.path(fixture, "grads_fp32.h5"))
        let autocast = try CheckpointReader(path: Fixtures.path(fixture, "grads.h5"))
        var worst = 0.0
        for name in exact.tensors.map(\.key.name) where name.hasSuffix(".weight") {
            worst = max(worst, TestModels.relativeL2(try exact.readFloats(.model(name)), try autocast.readFloats(.model(name))))
        }
        #expect(worst > 1e-3, "\(fixture): float32 and autocast gradients agree to \(worst)")
    }

    private func compare(_ fixture: String, gradients file: String, limits: (loss: Double, gradient: Double)) throws {
        let state = try ReferenceState(source: CheckpointFileSource(path: Fixtures.path(fixture, "before.h5")))
        let batch = try BatchFile.read(path: Fixtures.path(fixture, "batch.h5"))
        #expect(batch.targets.contains(-1))
        let g = try state.gradients(batch: batch, batchPath: "batch.h5")
        let torch = try CheckpointReader(path: Fixtures.path(fixture, file))
        let torchLoss = try #require(StepRecord.recordedLoss(torch.metadata.userJSON))
        let (lossLimit, gradLimit) = limits
        #expect(abs(g.loss - torchLoss) / torchLoss < lossLimit, "\(fixture): loss \(g.loss) vs transformers \(torchLoss)")
        let architecture = state.model.architecture
        var zeroElements = 0
        for name in state.parameters.names {
            let ours = try #require(g.gradients[name]).array, theirs = try torch.readFloats(.model(name))
            let zero = architecture.zeroGradientRanges(name)
            var carrying = Array(repeating: true, count: ours.count)
            for r in zero { for i in r { carrying[i] = false } }
            zeroElements += zero.map(\.count).reduce(0, +)
            let a = ours.indices.filter { carrying[$0] }.map { ours[$0] }, b = theirs.indices.filter { carrying[$0] }.map { theirs[$0] }
            let err = TestModels.relativeL2(a, b)
            #expect(err < gradLimit, "\(fixture) \(name): gradient relative L2 error \(err) vs transformers")
            // Zero exact gradient: both are rounding noise around 0.
            for i in ours.indices where !carrying[i] {
                #expect(abs(ours[i]) < 1e-6 && abs(theirs[i]) < 1e-6, "\(fixture) \(name)[\(i)]: \(ours[i]) vs \(theirs[i])")
            }
        }
        #expect(zeroElements == (fixture.hasPrefix("neox") ? 2 * 4 * 12 : 0), "\(fixture): zero-gradient elements")
    }

    @Test(arguments: fixtures)
    func transformersStepVerifies(_ fixture: String) throws {
        let precision = String(fixture.split(separator: "-")[1])
        let r = try StepVerifier(tolerances: try #require(VerifyTolerances.profile(precision))).verify(
            before: CheckpointFileSource(path: Fixtures.path(fixture, "before.h5")),
            after: CheckpointFileSource(path: Fixtures.path(fixture, "after.h5")), batchPath: Fixtures.path(fixture, "batch.h5"))
        #expect(r.passed, "\(r.summary(limit: 40))")
        #expect(r.clipCoefficient < 1, "the fixture step must clip")
        #expect(r.global.contains { $0.check == "loss.relative_error" })
        if precision == "bf16" {
            // The autocast step is not an fp32 step.
            let strict = try StepVerifier(tolerances: .fp32).verify(
                before: CheckpointFileSource(path: Fixtures.path(fixture, "before.h5")),
                after: CheckpointFileSource(path: Fixtures.path(fixture, "after.h5")), batchPath: Fixtures.path(fixture, "batch.h5"))
            #expect(!strict.passed)
        }
    }

    @Test(arguments: ["llama-fp32", "neox-fp32", "llama3-fp32"])
    func referenceStepMatchesTransformersAfterCheckpoint(_ fixture: String) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try ReferenceStep.run(
            before: CheckpointFileSource(path: Fixtures.path(fixture, "before.h5")), batchPath: Fixtures.path(fixture, "batch.h5"),
            out: dir + "/b.h5")
        let ours = try CheckpointReader(path: dir + "/b.h5"), torch = try CheckpointReader(path: Fixtures.path(fixture, "after.h5"))
        #expect(ours.metadata.step == torch.metadata.step)
        let config = try #require(torch.metadata.modelConfig)
        let architecture = try ModelArchitecture(config: config)
        let lr = try #require(torch.metadata.optimizer).lr
        for (name, _) in config.canonicalTensors() {
            let zero = Set(architecture.zeroGradientRanges(name).flatMap { Array($0) })
            let a = try ours.readFloats(.model(name)), b = try torch.readFloats(.model(name))
            let worst = a.indices.filter { !zero.contains($0) }.map { abs(Double(a[$0]) - Double(b[$0])) }.max() ?? 0
            #expect(worst < 1e-3 * lr, "\(fixture) \(name): max |θ_ours − θ_torch| = \(worst)")
        }
    }
}
