import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// `ReferenceStep` end to end through real checkpoint files.
@Suite struct ReferenceStepTests {
    let config = TestModels.tiny(tied: false)

    @Test func batchFileRoundTrips() throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = TestModels.batch(config, b: 2, t: 5, seed: 3, ignored: [1])
        try BatchFile.write(b, to: dir + "/b.h5")
        #expect(try BatchFile.read(path: dir + "/b.h5") == b)
        #expect(throws: ReferenceError.self) { try BatchFile.read(path: dir + "/missing.h5") }
    }

    @Test(arguments: ["torch", "decoupled"])
    func stepWritesTheUpdatedCheckpoint(_ variant: String) throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let opt = OptimizerConfig(variant: variant, lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 0.5, decay: "matrices")
        try TestCheckpoints.write(config, optimizer: opt, step: 3, to: dir + "/a.h5")
        let batch = TestModels.batch(config, b: 2, t: 5, seed: 4)
        try BatchFile.write(batch, to: dir + "/batch.h5")
        let result = try ReferenceStep.run(
            before: CheckpointFileSource(path: dir + "/a.h5"), batchPath: dir + "/batch.h5", out: dir + "/b.h5",
            options: WriterOptions(codec: .none, threads: 1))

        // Independent recomputation in memory.
        let a = try CheckpointReader(path: dir + "/a.h5")
        let params = TensorBuffers<Float>(tensors: config.canonicalTensors())
        for n in params.names { params.set(n, try a.readFloats(.model(n))) }
        let model = try ReferenceModel(config: config)
        let (loss, grads) = try model.lossAndGradients(parameters: params, batch: batch)
        #expect(result.loss == loss)
        let norm = Reductions.globalNorm(grads)
        #expect(norm > 0.5, "the test needs clipping active")
        #expect(result.clipCoefficient < 1)
        let adam = try AdamW(config: opt)
        let b = try CheckpointReader(path: dir + "/b.h5")
        #expect(b.metadata.step == 4)
        #expect(StepRecord.recordedLoss(b.metadata.userJSON) == loss)
        #expect(b.metadata.modelConfig == config)
        for (name, shape) in config.canonicalTensors() {
            var th = try a.readFloats(.model(name)), m = try a.readFloats(.optimizer("exp_avg", name))
            var v = try a.readFloats(.optimizer("exp_avg_sq", name))
            adam.update(
                theta: &th, grad: grads[name]!.pointer, expAvg: &m, expAvgSq: &v, count: th.count,
                decay: shape.count >= 2, gradScale: Float(result.clipCoefficient), completedSteps: 3)
            #expect(try b.readFloats(.model(name)) == th, "\(name)")
            #expect(try b.readFloats(.optimizer("exp_avg", name)) == m, "\(name)")
            #expect(try b.readFloats(.optimizer("exp_avg_sq", name)) == v, "\(name)")
            #expect(try b.readFloats(.model(name)) != a.readFloats(.model(name)), "\(name) did not move")
        }
    }

    @Test func bfloat16ParametersFollowTheirMasters() throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let opt = OptimizerConfig(variant: "decoupled", lr: 0.01, gradClip: 0)
        try TestCheckpoints.write(config, optimizer: opt, step: 2, dtype: .bfloat16, to: dir + "/a.h5")
        try BatchFile.write(TestModels.batch(config, b: 1, t: 6, seed: 2), to: dir + "/batch.h5")
        _ = try ReferenceStep.run(before: CheckpointFileSource(path: dir + "/a.h5"), batchPath: dir + "/batch.h5", out: dir + "/b.h5")
        let a = try CheckpointReader(path: dir + "/a.h5"), b = try CheckpointReader(path: dir + "/b.h5")
        for (name, _) in config.canonicalTensors() {
            #expect(try b.info(.model(name)).dtype == .bfloat16)
            let master = try b.readFloats(.optimizer("master", name))
            let param = try b.readFloats(.model(name))
            #expect(param == master.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16Bits(from: $0)) }, "\(name)")
            #expect(master != (try a.readFloats(.optimizer("master", name))), "\(name) master did not move")
        }
    }

    @Test func firstStepStartsFromZeroState() throws {
        let dir = TestModels.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let opt = OptimizerConfig(variant: "torch", lr: 0.001, weightDecay: 0, gradClip: 0)
        try TestCheckpoints.write(config, optimizer: opt, step: 0, withState: false, to: dir + "/a.h5")
        try BatchFile.write(TestModels.batch(config, b: 1, t: 4, seed: 2), to: dir + "/batch.h5")
        _ = try ReferenceStep.run(before: CheckpointFileSource(path: dir + "/a.h5"), batchPath: dir + "/batch.h5", out: dir + "/b.h5")
        let a = try CheckpointReader(path: dir + "/a.h5"), b = try CheckpointReader(path: dir + "/b.h5")
        // First step, no decay: every element with a non-zero gradient moves by lr (sign step).
        let name = "layers.0.mlp.up.weight"
        let d = zip(try b.readFloats(.model(name)), try a.readFloats(.model(name))).map { abs(Double($0) - Double($1)) }
        #expect(d.allSatisfy { $0 < 0.001 * 1.0001 })
        #expect(d.filter { $0 > 0.001 * 0.999 }.count > d.count / 2)
        // At a later step the missing state is an error naming the tensor.
        try TestCheckpoints.write(config, optimizer: opt, step: 5, withState: false, to: dir + "/c.h5")
        #expect(throws: ReferenceError.missingTensor(path: dir + "/c.h5", tensor: "optimizer.exp_avg.embed.tokens.weight")) {
            _ = try ReferenceStep.run(before: CheckpointFileSource(path: dir + "/c.h5"), batchPath: dir + "/batch.h5", out: dir + "/d.h5")
        }
    }
}
