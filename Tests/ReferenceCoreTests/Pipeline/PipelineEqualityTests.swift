import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// The pipelined pass (`PipelineRunner`) against the in-memory one: the same loss, gradient
/// norm, clipping coefficient, every gradient bit for bit, the same step written and the same
/// verification report, at memory budgets that keep 1, 2 and all blocks resident, spilled, in
/// two passes and (without clipping) in one.
@Suite struct PipelineEqualityTests {
    static let fixtures = ["fp32", "bf16", "llama-fp32", "llama-bf16", "neox-fp32", "neox-bf16", "llama3-fp32"]

    /// The committed fixtures (2 blocks each): every gradient of the pipelined pass at 1 and 2
    /// blocks per stage is the in-memory one bit for bit, and the loss is still transformers'.
    @Test(arguments: fixtures)
    func fixtureGradientsAreBitIdentical(_ fixture: String) throws {
        let source = try CheckpointFileSource(path: Fixtures.path(fixture, "before.h5"))
        let batchPath = Fixtures.path(fixture, "batch.h5")
        let batch = try BatchFile.read(path: batchPath)
        let reference = try ReferenceState(source: source).gradients(batch: batch, batchPath: batchPath)
        for (k, clipping) in [(1, ClippingStrategy.spill), (1, .twoPass), (2, .spill), (2, .twoPass)] {
            let (summary, got) = try Self.pipelinedGradients(source, batch, batchPath, StepMemory(clipping: clipping, residentBlocks: k))
            #expect(summary.loss.bitPattern == reference.loss.bitPattern, "\(fixture) k=\(k) \(clipping): loss")
            #expect(summary.globalNorm.bitPattern == reference.globalNorm.bitPattern, "\(fixture) k=\(k) \(clipping): norm")
            #expect(summary.clipCoefficient.bitPattern == reference.clipCoefficient.bitPattern)
            #expect(Set(got.keys) == Set(reference.gradients.names))
            for name in reference.gradients.names {
                let ours = try #require(reference.gradients[name]).array
                #expect(got[name]?.map(\.bitPattern) == ours.map(\.bitPattern), "\(fixture) k=\(k) \(clipping): gradient of \(name)")
            }
        }
        // PyTorch still agrees (fp32 computation of the stored parameters).
        let exact = fixture.hasSuffix("bf16") ? "grads_fp32.h5" : "grads.h5"
        let torch = try CheckpointReader(path: Fixtures.path(fixture, exact))
        let torchLoss = try #require(StepRecord.recordedLoss(torch.metadata.userJSON))
        #expect(abs(reference.loss - torchLoss) / torchLoss < 1e-6, "\(fixture): loss \(reference.loss) vs PyTorch \(torchLoss)")
    }

    /// Each fixture's PyTorch step gets the same report, figure for figure, at every stage size.
    @Test(arguments: fixtures)
    func fixtureReportsAreIdentical(_ fixture: String) throws {
        let precision = fixture.hasSuffix("bf16") ? "bf16" : "fp32"
        let verifier = StepVerifier(tolerances: try #require(VerifyTolerances.profile(precision)))
        let (before, after, batch) = (Fixtures.path(fixture, "before.h5"), Fixtures.path(fixture, "after.h5"), Fixtures.path(fixture, "batch.h5"))
        let r = try PipelinedVerification.verify(verifier, before: before, after: after, batch: batch)
        #expect(r.passed, "\(r.summary(limit: 20))")
        for clipping in [ClippingStrategy.spill, .twoPass] {
            let all = try verifier.verify(
                before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batch,
                memory: StepMemory(clipping: clipping, residentBlocks: 2))
            #expect(all.plan?.stages.count == 1)
            #expect(all.jsonText() == r.jsonText(), "\(fixture): all blocks resident, \(clipping)")
        }
    }

    /// The pipelined pass of `source` under `memory`: its summary and a copy of every gradient.
    static func pipelinedGradients(
        _ source: any TensorSource, _ batch: TokenBatch, _ batchPath: String, _ memory: StepMemory
    ) throws -> (ReferenceState.PassSummary, [String: [Float]]) {
        let state = try ReferenceState(source: source, loadParameters: false)
        let plan = try state.plan(batch: batch, memory: memory, streaming: nil)
        #expect(plan.mode != .inMemory)
        var got: [String: [Float]] = [:]
        let summary = try state.forEachFinalGradient(batch: batch, batchPath: batchPath, plan: plan) { name, g, _ in
            #expect(state.parameters.contains(name), "\(name) applied without its parameter loaded")
            got[name] = g.array
        }
        return (summary, got)
    }
}
