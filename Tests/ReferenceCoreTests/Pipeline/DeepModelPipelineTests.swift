import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// Five-block GPT-2, LLaMA and NeoX models (random checkpoints): budgets that keep 1, 2 and
/// all blocks resident are planned as such, and `step` writes the same checkpoint (its update
/// whole or in row blocks) and `verify-step` the same report as in memory in every mode.
@Suite struct DeepModelPipelineTests {
    static let families = ["gpt2", "llama", "neox"]

    static func config(_ family: String) -> ModelConfig {
        switch family {
        case "llama":
            return ModelConfig(
                family: "llama", layers: 5, hidden: 16, heads: 4, kvHeads: 2, ffn: 24, vocab: 19, maxSeq: 8, normEps: 1e-5,
                activation: "swiglu", tieEmbeddings: false, norm: "rmsnorm", position: "rope", ropeTheta: 10000, bias: false,
                residual: "sequential", rotaryPct: 1)
        case "neox":
            return ModelConfig(
                family: "neox", layers: 5, hidden: 16, heads: 4, ffn: 32, vocab: 19, maxSeq: 8, normEps: 1e-5, activation: "gelu",
                tieEmbeddings: false, norm: "layernorm", position: "rope", ropeTheta: 10000, bias: true, residual: "parallel",
                rotaryPct: 0.5)
        default:
            return ModelConfig(
                family: "gpt2", layers: 5, hidden: 16, heads: 2, ffn: 24, vocab: 19, maxSeq: 8, normEps: 1e-5, activation: "gelu_tanh",
                tieEmbeddings: true, bias: true)
        }
    }

    static func optimizer(clip: Double) -> OptimizerConfig {
        OptimizerConfig(variant: "torch", lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: clip, decay: "matrices")
    }

    /// A before-checkpoint, a batch and the in-memory step's after-checkpoint in `dir`.
    static func make(_ family: String, clip: Double, dtype: DType, in dir: String) throws -> (before: String, batch: String, after: String) {
        let config = Self.config(family)
        let before = dir + "/before.h5", batch = dir + "/batch.h5", after = dir + "/after.h5"
        try TestCheckpoints.write(config, optimizer: optimizer(clip: clip), step: 3, dtype: dtype, to: before)
        try BatchFile.write(TestModels.batch(config, b: 2, t: 7, seed: 5, ignored: [3]), to: batch)
        _ = try ReferenceStep.run(before: CheckpointFileSource(path: before), batchPath: batch, out: after)
        return (before, batch, after)
    }

    @Test(arguments: families)
    func budgetsPickOneTwoAndAllBlocks(_ family: String) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (before, batchPath, _) = try Self.make(family, clip: 0.05, dtype: .float32, in: dir)
        let state = try ReferenceState(source: CheckpointFileSource(path: before), loadParameters: false)
        let batch = try BatchFile.read(path: batchPath)
        let e = try state.plan(batch: batch, memory: .unbounded, streaming: nil).estimate
        for k in [1, 2, 5] {
            let plan = try state.plan(batch: batch, memory: StepMemory(budgetBytes: e.pipelinedBytes(residentBlocks: k)), streaming: nil)
            #expect(plan.residentBlocks == k && plan.mode == .spill, "\(family): budget for \(k) blocks planned \(plan)")
            #expect(plan.stages.map(\.blocks.count).reduce(0, +) == 5)
            #expect(plan.estimatedPeakBytes <= e.pipelinedBytes(residentBlocks: k))
        }
        let whole = try state.plan(batch: batch, memory: StepMemory(budgetBytes: e.inMemoryBytes), streaming: nil)
        #expect(whole.mode == .inMemory)
        let below = e.pipelinedBytes(residentBlocks: 1) - 1
        #expect(throws: ReferenceError.self) { try state.plan(batch: batch, memory: StepMemory(budgetBytes: below), streaming: nil) }
        let twoPass = try state.plan(batch: batch, memory: StepMemory(budgetBytes: below + 1, clipping: .twoPass), streaming: nil)
        #expect(twoPass.mode == .twoPass)
    }

    /// `step` at budgets keeping 1, 2 and 5 blocks resident, in every mode, writes the same
    /// tensors as in memory; `verify-step` of that step reports the same figures.
    @Test(arguments: families, [DType.float32, .bfloat16])
    func stepAndVerificationAreIdenticalInEveryMode(_ family: String, _ dtype: DType) throws {
        for clip in [0.05, 0] {
            let dir = TestModels.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (before, batchPath, after) = try Self.make(family, clip: clip, dtype: dtype, in: dir)
            let reference = try CheckpointReader(path: after)
            let verifier = StepVerifier(tolerances: try #require(VerifyTolerances.profile(dtype == .float32 ? "fp32" : "bf16")))
            let inMemory = try verifier.verify(
                before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batchPath)
            #expect(inMemory.passed, "\(inMemory.summary())")
            #expect((clip > 0) == (inMemory.clipCoefficient < 1), "\(family): the clip of \(clip) should bind (norm \(inMemory.gradNorm))")
            let strategies: [ClippingStrategy] = clip > 0 ? [.spill, .twoPass] : [.auto]
            for k in [1, 2, 5] {
                for clipping in strategies {
                    let memory = StepMemory(clipping: clipping, residentBlocks: k, scratchDirectory: dir)
                    let out = dir + "/after-\(k)-\(clipping).h5"
                    // At one block per stage the update also streams every tensor in blocks of 2-3 rows.
                    let r = try ReferenceStep.run(
                        before: CheckpointFileSource(path: before), batchPath: batchPath, out: out, memory: memory,
                        streamElements: k == 1 ? 40 : ReferenceStep.defaultStreamElements)
                    #expect(r.plan?.mode == (clip > 0 ? PipelinePlan.Mode(rawValue: clipping.rawValue) : .singlePass))
                    try Self.expectSameTensors(CheckpointReader(path: out), reference, "\(family) \(dtype) clip \(clip) k=\(k) \(clipping)")
                    let v = try verifier.verify(
                        before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batchPath,
                        memory: memory)
                    #expect(v.jsonText() == inMemory.jsonText(), "\(family) \(dtype) clip \(clip) k=\(k) \(clipping): report")
                }
            }
            // The spill files were unlinked when created: nothing is left in the scratch directory.
            let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("ckpt-spill") }
            #expect(left.isEmpty)
        }
    }

    @Test func anUnwritableScratchDirectoryIsAnErrorNamingIt() throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (before, batchPath, after) = try Self.make("gpt2", clip: 0.05, dtype: .float32, in: dir)
        let missing = dir + "/no/such/dir"
        #expect {
            _ = try StepVerifier(tolerances: VerifyTolerances.profile("fp32")!).verify(
                before: CheckpointFileSource(path: before), after: CheckpointFileSource(path: after), batchPath: batchPath,
                memory: StepMemory(clipping: .spill, residentBlocks: 1, scratchDirectory: missing))
        } throws: { error in
            "\(error)".contains(missing) && "\(error)".contains("two-pass")
        }
    }

    static func expectSameTensors(_ a: CheckpointReader, _ b: CheckpointReader, _ what: String) throws {
        #expect(a.metadata.step == b.metadata.step && a.metadata.userJSON == b.metadata.userJSON, "\(what): metadata")
        let keys = a.tensors.map(\.key)
        #expect(Set(keys) == Set(b.tensors.map(\.key)), "\(what): tensor set")
        for key in keys {
            let x = try a.readFloats(key), y = try b.readFloats(key)
            #expect(x.map(\.bitPattern) == y.map(\.bitPattern), "\(what): \(key)")
        }
    }
}
