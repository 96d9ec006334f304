import CheckpointStore
import Testing

@testable import ReferenceCore

/// The whole composed model (LLaMA-style, GPT-NeoX-style and mixtures of their parts) against
/// central differences in Float64, and the fp32 path against the Float64 one.
@Suite struct ComposedGradientCheckTests {
    @Test(arguments: ComposedModels.cases)
    func backwardMatchesCentralDifferences(_ c: ComposedModels.Case) throws {
        let model = try ReferenceModel(config: c.config)
        let params: TensorBuffers<Double> = TestModels.parameters(c.config, seed: 7)
        let batch = TestModels.batch(c.config, b: 2, t: 5, seed: 11, ignored: [3, 6])
        let grads = TensorBuffers<Double>(zerosLike: params)
        _ = try model.run(parameters: params, batch: batch, gradients: grads)
        let h = 1e-5
        for name in params.names {
            let p = params[name]!
            var fd = [Double](repeating: 0, count: p.count)
            for i in 0..<p.count {
                let saved = p[i]
                p[i] = saved + h
                let up = try model.run(parameters: params, batch: batch, gradients: nil)
                p[i] = saved - h
                let down = try model.run(parameters: params, batch: batch, gradients: nil)
                p[i] = saved
                fd[i] = (up - down) / (2 * h)
            }
            let analytic = grads[name]!.array
            if name.hasSuffix("attn.k.bias") && model.architecture.positions == .learned {
                #expect(analytic.allSatisfy { abs($0) < 1e-12 } && fd.allSatisfy { abs($0) < 1e-9 }, "\(c) \(name)")
                continue
            }
            let err = TestModels.relativeL2(analytic, fd)
            #expect(err < 1e-6, "\(c) \(name): relative L2 error \(err) of the analytic gradient")
            #expect(fd.contains { $0 != 0 }, "\(c) \(name): gradient identically zero")
        }
    }

    @Test(arguments: ComposedModels.cases)
    func float32PathAgreesWithFloat64(_ c: ComposedModels.Case) throws {
        let model = try ReferenceModel(config: c.config)
        let p64: TensorBuffers<Double> = TestModels.parameters(c.config, seed: 3)
        let p32 = p64.converted(to: Float.self)
        let batch = TestModels.batch(c.config, b: 3, t: 6, seed: 5)
        let g64 = TensorBuffers<Double>(zerosLike: p64)
        let l64 = try model.run(parameters: p64, batch: batch, gradients: g64)
        let (l32, g32) = try model.lossAndGradients(parameters: p32, batch: batch)
        #expect(abs(l32 - l64) / l64 < 1e-5)
        for name in p64.names where !(name.hasSuffix("attn.k.bias") && model.architecture.positions == .learned) {
            let err = TestModels.relativeL2(g32[name]!.array, g64[name]!.array)
            #expect(err < 1e-4, "\(c) \(name): fp32 gradient relative L2 error \(err)")
        }
    }

    @Test func familyNameDoesNotChangeTheModel() throws {
        // The parts follow the switches; the family only names the tensor layout.
        var asGPT2 = ComposedModels.llama
        asGPT2.family = "gpt2"
        let params: TensorBuffers<Double> = TestModels.parameters(ComposedModels.llama, seed: 2)
        let batch = TestModels.batch(ComposedModels.llama, b: 1, t: 6, seed: 3)
        let a = try ReferenceModel(config: ComposedModels.llama).run(parameters: params, batch: batch, gradients: nil)
        let b = try ReferenceModel(config: asGPT2).run(parameters: params, batch: batch, gradients: nil)
        #expect(a == b)
    }
}
