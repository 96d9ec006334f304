import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// The attention and MLP branches and the whole block on their own, in Float64 against
/// central differences: every input and weight gradient of each variant.
@Suite struct BlockPartTests {
    struct Setup {
        let hx: PartHarness
        let a: ModelArchitecture
        let w: BlockWeights<Double>
        let rows = 8, batch = 2, seq = 4
        var names: [String] { hx.parameters.names }
        var kernel: AttentionKernel { AttentionKernel(batch: batch, seq: seq, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim) }
        var rotary: RotaryKernel<Double>? {
            if case .rotary(let d, let theta, let scaling) = a.positions { return RotaryKernel(seq: seq, headDim: a.headDim, dimensions: d, theta: theta, scaling: scaling) }
            return nil
        }
        var attention: AttentionBlock { AttentionBlock(kernel: kernel, rows: rows, hidden: a.hidden, kvWidth: a.kvHeads * a.headDim) }
        var mlp: MLPBlock { MLPBlock(kind: a.mlp, rows: rows, hidden: a.hidden, ffn: a.ffn) }
        var block: TransformerBlock {
            let norm = NormLayer(kind: a.norm, eps: a.normEps, rows: rows, columns: a.hidden)
            return TransformerBlock(attentionNorm: norm, mlpNorm: norm, attention: attention, mlp: mlp, residual: a.residual)
        }
    }

    /// Block 0 of a one-layer `config`, with random weights.
    static func setUp(_ config: ModelConfig, seed: UInt64) throws -> Setup {
        var c = config
        c.layers = 1
        let a = try ModelArchitecture(config: c)
        let hx = try PartHarness(tensors: c.canonicalTensors().filter { $0.name.hasPrefix("layers.0.") }, seed: seed)
        return Setup(hx: hx, a: a, w: try BlockWeights.bind(0, a, from: hx.parameters, source: "test"))
    }

    static let attentionCases: [ComposedModels.Case] = [
        .init(name: "mha learned bias", config: ComposedModels.config()),
        .init(name: "gqa full rotary no bias", config: ComposedModels.config(position: "rope", bias: false, kvHeads: 1)),
        .init(name: "mha half rotary bias", config: ComposedModels.config(position: "rope", rotaryPct: 0.5)),
        .init(name: "gqa half rotary bias", config: ComposedModels.config(position: "rope", rotaryPct: 0.5, kvHeads: 1)),
    ]

    @Test(arguments: attentionCases)
    func attentionBackwardMatchesCentralDifferences(_ c: ComposedModels.Case) throws {
        let s = try Self.setUp(c.config, seed: 5)
        let n = s.rows * s.a.hidden
        let h = s.hx.random(n), res = s.hx.random(n), r = s.hx.random(n)
        func forward() -> (AttentionBlock.Cache<Double>, ScalarBuffer<Double>) {
            let cache = AttentionBlock.Cache<Double>(s.attention, recycler: s.hx.recycler), y = ScalarBuffer<Double>(count: n)
            s.attention.forward(h.pointer, residual: res.pointer, into: y.pointer, s.w, rotary: s.rotary, cache: cache)
            return (cache, y)
        }
        let (cache, _) = forward()
        let kv = s.rows * s.a.kvHeads * s.a.headDim
        let dh = ScalarBuffer<Double>(count: n), dq = ScalarBuffer<Double>(count: n)
        let dk = ScalarBuffer<Double>(count: kv), dv = ScalarBuffer<Double>(count: kv)
        s.attention.backward(
            dy: r.pointer, input: h.pointer, s.w, rotary: s.rotary, cache: cache, dh: dh.pointer, dq: dq.pointer, dk: dk.pointer,
            dv: dv.pointer, grads: s.hx.sink)
        let attn = s.names.filter { $0.contains(".attn.") }
        // The key bias has an exactly zero gradient unless rotary embedding rotates it.
        let kBias = Set(attn.filter { $0.hasSuffix("attn.k.bias") })
        for e in s.hx.errors(inputs: [("h", h, dh.array)], parameters: attn, zeroAllowed: kBias, loss: { PartHarness.dot(r, forward().1) }) {
            #expect(e.error < 1e-7, "\(c) \(e.name): relative L2 error \(e.error)")
            #expect(!e.allZero, "\(c) \(e.name): gradient identically zero")
        }
        if let kb = s.hx.gradients["layers.0.attn.k.bias"] {
            let hd = s.a.headDim, rotated = s.a.rotaryDimensions
            for i in 0..<kb.count {
                if i % hd < rotated {
                    #expect(abs(kb[i]) > 1e-6, "\(c): rotated k-bias element \(i) should carry a gradient")
                } else {
                    #expect(abs(kb[i]) < 1e-12, "\(c): k-bias element \(i) is not rotated; its exact gradient is 0 (got \(kb[i]))")
                }
            }
        }
    }

    static let mlpCases: [ComposedModels.Case] = [
        .init(name: "gelu_tanh bias", config: ComposedModels.config()),
        .init(name: "gelu erf bias", config: ComposedModels.config(activation: "gelu")),
        .init(name: "swiglu", config: ComposedModels.config(activation: "swiglu", bias: false)),
        .init(name: "swiglu bias", config: ComposedModels.config(activation: "swiglu")),
    ]

    @Test(arguments: mlpCases)
    func mlpBackwardMatchesCentralDifferences(_ c: ComposedModels.Case) throws {
        let s = try Self.setUp(c.config, seed: 6)
        let n = s.rows * s.a.hidden
        let h = s.hx.random(n), res = s.hx.random(n), r = s.hx.random(n)
        func forward() -> (MLPBlock.Cache<Double>, ScalarBuffer<Double>) {
            let cache = MLPBlock.Cache<Double>(s.mlp, recycler: s.hx.recycler), y = ScalarBuffer<Double>(count: n)
            s.mlp.forward(h.pointer, residual: res.pointer, into: y.pointer, s.w, cache: cache)
            return (cache, y)
        }
        let (cache, _) = forward()
        let dh = ScalarBuffer<Double>(count: n)
        s.mlp.backward(
            dy: r.pointer, input: h.pointer, s.w, cache: cache, scratch: .init(s.mlp, recycler: s.hx.recycler), dh: dh.pointer, grads: s.hx.sink)
        let names = s.names.filter { $0.contains(".mlp.") }
        #expect(names.contains("layers.0.mlp.gate.weight") == (s.a.mlp == .swiglu))
        for e in s.hx.errors(inputs: [("h", h, dh.array)], parameters: names, loss: { PartHarness.dot(r, forward().1) }) {
            #expect(e.error < 1e-7, "\(c) \(e.name): relative L2 error \(e.error)")
            #expect(!e.allZero, "\(c) \(e.name): gradient identically zero")
        }
    }

    @Test func swigluIsSiluOfTheGateTimesUp() {
        let g: [Double] = [-3, -0.5, 0, 0.25, 2, 40, -40], u: [Double] = [1, 2, -1, 3, 0.5, -2, 7]
        let out = ScalarBuffer<Double>(count: g.count)
        g.withUnsafeBufferPointer { gb in
            u.withUnsafeBufferPointer { ub in SwiGLUKernel.forward(gate: gb.baseAddress!, up: ub.baseAddress!, out: out.pointer, count: g.count) }
        }
        for i in g.indices {
            let silu = g[i] / (1 + Foundation.exp(-g[i]))
            #expect(abs(out[i] - silu * u[i]) <= 1e-15 * max(1, abs(silu * u[i])), "element \(i)")
        }
    }
}
