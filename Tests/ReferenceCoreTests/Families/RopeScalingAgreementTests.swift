import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// RoPE frequency scaling in the reference core, against transformers' LlamaForCausalLM with
/// Llama 3.1 scaling (`rope_type` llama3; the llama3-fp32 fixture of
/// tools/ref_make_family_fixtures.py `--variant llama3`, whose frequencies take every branch
/// of the formula): the frequency tables, then the step. The same fixture computed without
/// the scaling must fail, so the agreement is the scaling's and not the unscaled model's.
@Suite struct RopeScalingAgreementTests {
    static let fixture = "llama3-fp32"

    /// transformers' `inv_freq` of the fixture model, as float32 bit patterns.
    static func transformersFrequencies() throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(fixture, "inv_freq.json")))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let bits = try #require(json["float32_bits"] as? [Int])
        return bits.map { Float(bitPattern: UInt32($0)) }
    }

    static func config() throws -> ModelConfig {
        try #require(try CheckpointReader(path: Fixtures.path(fixture, "before.h5")).metadata.modelConfig)
    }

    @Test func float32TableIsTransformersBitForBit() throws {
        let c = try Self.config()
        let scaling = try #require(c.ropeScaling)
        #expect(scaling.type == "llama3")
        let ours = RotaryFrequencies.float32(dimensions: c.rotaryDimensions, theta: c.ropeTheta, scaling: scaling)
        let theirs = try Self.transformersFrequencies()
        #expect(ours.map(\.bitPattern) == theirs.map(\.bitPattern), "\(ours) vs transformers \(theirs)")
        // Every branch is taken: kept (unchanged), interpolated (neither), divided by factor.
        let plain = RotaryFrequencies.float32(dimensions: c.rotaryDimensions, theta: c.ropeTheta, scaling: nil)
        let factor = Float(try #require(scaling.factor))
        let kept = zip(ours, plain).filter { $0 == $1 }.count
        let divided = zip(ours, plain).filter { $0 == $1 / factor }.count
        #expect(kept >= 1 && divided >= 1 && kept + divided < ours.count, "kept \(kept), divided \(divided) of \(ours.count)")
    }

    @Test func float64TableAgreesWithTransformers() throws {
        let c = try Self.config()
        let ours = c.ropeInverseFrequencies(), theirs = try Self.transformersFrequencies()
        #expect(ours.count == theirs.count)
        for (a, b) in zip(ours, theirs) { #expect(abs(a - Double(b)) <= 1e-6 * abs(a), "\(a) vs \(b)") }
    }

    @Test func lossAndGradientsMatchTransformers() throws {
        let (loss, worst) = try agreement(scaled: true)
        #expect(loss < 1e-6, "loss relative error \(loss)")
        #expect(worst < 1e-5, "worst gradient relative L2 error \(worst)")
    }

    /// Dropping `rope_scaling` breaks both limits above: the loss of this small-init model moves
    /// by 5.0e-6 relative, the gradients by 0.37 relative L2 (measured).
    @Test func theUnscaledModelDoesNotMatch() throws {
        let (loss, worst) = try agreement(scaled: false)
        #expect(loss > 1e-6 && worst > 1e-2, "unscaled core: loss error \(loss), gradient error \(worst)")
    }

    @Test func transformersStepVerifiesAndTheUnscaledCoreRejectsIt() throws {
        let before = Fixtures.path(Self.fixture, "before.h5"), after = Fixtures.path(Self.fixture, "after.h5")
        let batch = Fixtures.path(Self.fixture, "batch.h5")
        let verifier = StepVerifier(tolerances: .fp32)
        let r = try verifier.verify(before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batch)
        #expect(r.passed, "\(r.summary(limit: 40))")
        #expect(r.clipCoefficient < 1)
        let unscaled = try verifier.verify(
            before: UnscaledSource(try CheckpointFileSource(path: before)), after: UnscaledSource(try CheckpointFileSource(path: after)),
            batchPath: batch)
        #expect(!unscaled.passed)
    }

    /// (loss relative error, worst per-tensor gradient relative L2 error) of the core against
    /// the fixture's transformers gradients, with or without the config's scaling.
    private func agreement(scaled: Bool) throws -> (Double, Double) {
        let file = try CheckpointFileSource(path: Fixtures.path(Self.fixture, "before.h5"))
        let state = try ReferenceState(source: scaled ? file : UnscaledSource(file))
        let batch = try BatchFile.read(path: Fixtures.path(Self.fixture, "batch.h5"))
        let g = try state.gradients(batch: batch, batchPath: "batch.h5")
        let torch = try CheckpointReader(path: Fixtures.path(Self.fixture, "grads.h5"))
        let torchLoss = try #require(StepRecord.recordedLoss(torch.metadata.userJSON))
        var worst = 0.0
        for name in state.parameters.names {
            worst = max(worst, TestModels.relativeL2(try #require(g.gradients[name]).array, try torch.readFloats(.model(name))))
        }
        return (abs(g.loss - torchLoss) / torchLoss, worst)
    }
}
