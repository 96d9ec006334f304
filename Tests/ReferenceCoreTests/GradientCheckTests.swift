import CheckpointStore
import Testing

@testable import ReferenceCore

/// Finite-difference checks of the hand-written backward pass, in Float64 through the same
/// generic code the fp32 path runs.
@Suite struct GradientCheckTests {
    struct Case: Sendable, CustomStringConvertible {
        var tied: Bool
        var activation: String
        var bias: Bool
        var kvHeads: Int?
        var description: String { "tied=\(tied) \(activation) bias=\(bias) kv=\(kvHeads.map(String.init) ?? "H")" }
    }

    static let cases: [Case] = [
        Case(tied: true, activation: "gelu_tanh", bias: true, kvHeads: nil),
        Case(tied: false, activation: "gelu", bias: true, kvHeads: nil),
        Case(tied: false, activation: "gelu_tanh", bias: false, kvHeads: 1),
    ]

    @Test(arguments: cases)
    func backwardMatchesCentralDifferences(_ c: Case) throws {
        let config = TestModels.tiny(tied: c.tied, activation: c.activation, bias: c.bias, kvHeads: c.kvHeads)
        let model = try ReferenceModel(config: config)
        let params: TensorBuffers<Double> = TestModels.parameters(config, seed: 7)
        let batch = TestModels.batch(config, b: 2, t: 5, seed: 11, ignored: [3, 6])
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
            let err = TestModels.relativeL2(analytic, fd)
            #expect(err < 1e-6, "\(name): relative L2 error \(err) of the analytic gradient")
            // Softmax is invariant to a key bias (q·b is constant along a row), so its gradient is 0.
            if !name.hasSuffix("attn.k.bias") {
                #expect(fd.contains { $0 != 0 }, "\(name): gradient identically zero")
            }
        }
    }

    @Test func float32PathAgreesWithFloat64() throws {
        let config = TestModels.tiny(tied: false)
        let model = try ReferenceModel(config: config)
        let p64: TensorBuffers<Double> = TestModels.parameters(config, seed: 3)
        let p32 = p64.converted(to: Float.self)
        let batch = TestModels.batch(config, b: 3, t: 6, seed: 5)
        let g64 = TensorBuffers<Double>(zerosLike: p64)
        let l64 = try model.run(parameters: p64, batch: batch, gradients: g64)
        let (l32, g32) = try model.lossAndGradients(parameters: p32, batch: batch)
        #expect(abs(l32 - l64) / l64 < 1e-5)
        for name in p64.names where name.hasSuffix("attn.k.bias") {
            #expect(g32[name]!.array.allSatisfy { abs($0) < 1e-6 }, "\(name): key-bias gradient is not ~0")
        }
        for name in p64.names where !name.hasSuffix("attn.k.bias") {
            let err = TestModels.relativeL2(g32[name]!.array, g64[name]!.array)
            #expect(err < 1e-4, "\(name): fp32 gradient relative L2 error \(err)")
        }
    }
}
