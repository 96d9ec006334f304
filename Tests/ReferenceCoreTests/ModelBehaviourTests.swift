import CheckpointStore
import Testing

@testable import ReferenceCore

/// Causal masking, ignored targets and tied heads.
@Suite struct ModelBehaviourTests {
    @Test func laterTokensDoNotChangeEarlierLosses() throws {
        let config = TestModels.tiny()
        let model = try ReferenceModel(config: config)
        let params: TensorBuffers<Double> = TestModels.parameters(config, seed: 1)
        // Only positions 0...2 of each sequence count.
        var batch = TestModels.batch(config, b: 2, t: 6, seed: 2, ignored: [3, 4, 5, 9, 10, 11])
        let before = try model.run(parameters: params, batch: batch, gradients: nil)
        for i in [3, 4, 5, 9, 10, 11] { batch.inputs[i] = (batch.inputs[i] + 1) % Int32(config.vocab) }
        let after = try model.run(parameters: params, batch: batch, gradients: nil)
        #expect(before == after, "a later token changed an earlier position's loss")
        batch.inputs[1] = (batch.inputs[1] + 1) % Int32(config.vocab)
        let changed = try model.run(parameters: params, batch: batch, gradients: nil)
        #expect(abs(changed - before) > 1e-9, "an earlier token did not change the loss")
    }

    @Test func ignoredTargetsAreLeftOutOfTheMean() throws {
        let config = TestModels.tiny(tied: false)
        let model = try ReferenceModel(config: config)
        let params: TensorBuffers<Double> = TestModels.parameters(config, seed: 4)
        let full = TestModels.batch(config, b: 2, t: 4, seed: 8)
        let active = [0, 2, 5, 7]
        var masked = full
        for i in 0..<masked.targets.count where !active.contains(i) { masked.targets[i] = -1 }
        var sum = 0.0
        for i in active {
            var one = full
            for j in 0..<one.targets.count where j != i { one.targets[j] = -1 }
            sum += try model.run(parameters: params, batch: one, gradients: nil)
        }
        let loss = try model.run(parameters: params, batch: masked, gradients: nil)
        #expect(abs(loss - sum / Double(active.count)) < 1e-12)
        let all = try model.run(parameters: params, batch: full, gradients: nil)
        #expect(abs(all - loss) > 1e-6)
    }

    @Test func tiedGradientIsEmbeddingPlusHeadGradient() throws {
        let tied = TestModels.tiny(tied: true), untied = TestModels.tiny(tied: false)
        let pt: TensorBuffers<Double> = TestModels.parameters(tied, seed: 9)
        let pu = TensorBuffers<Double>(tensors: untied.canonicalTensors())
        for name in pt.names { pu.set(name, pt[name]!.array) }
        pu.set("lm_head.weight", pt["embed.tokens.weight"]!.array)
        let batch = TestModels.batch(tied, b: 2, t: 5, seed: 10)
        let gt = TensorBuffers<Double>(zerosLike: pt), gu = TensorBuffers<Double>(zerosLike: pu)
        let lt = try ReferenceModel(config: tied).run(parameters: pt, batch: batch, gradients: gt)
        let lu = try ReferenceModel(config: untied).run(parameters: pu, batch: batch, gradients: gu)
        #expect(abs(lt - lu) < 1e-12)
        let sum = zip(gu["embed.tokens.weight"]!.array, gu["lm_head.weight"]!.array).map { $0 + $1 }
        #expect(TestModels.relativeL2(gt["embed.tokens.weight"]!.array, sum) < 1e-12)
        #expect(TestModels.relativeL2(gu["embed.tokens.weight"]!.array, sum) > 1e-3)
        for name in pt.names where name != "embed.tokens.weight" {
            #expect(TestModels.relativeL2(gt[name]!.array, gu[name]!.array) < 1e-12, "\(name)")
        }
    }

    @Test func batchValidationNamesTheProblem() {
        let config = TestModels.tiny()
        var b = TestModels.batch(config, b: 1, t: 4, seed: 1)
        b.inputs[2] = 11
        #expect(throws: ReferenceError.tokenOutOfRange(path: "x.h5", tensor: "inputs", index: 2, value: 11, vocab: 11)) {
            try b.validate(vocab: config.vocab, maxSeq: config.maxSeq, path: "x.h5")
        }
        let none = TokenBatch(batchSize: 1, sequenceLength: 2, inputs: [1, 2], targets: [-1, -1])
        #expect(throws: ReferenceError.noTargets(path: "x.h5")) { try none.validate(vocab: 11, maxSeq: 6, path: "x.h5") }
        let long = TestModels.batch(config, b: 1, t: 7, seed: 1)
        #expect(throws: ReferenceError.self) { try long.validate(vocab: 11, maxSeq: 6, path: "x.h5") }
    }
}
