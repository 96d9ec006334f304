import CheckpointStore
import Testing

@testable import ReferenceCore

/// The block: its residual wiring against the parts called one by one, and its backward
/// against central differences, sequential and parallel.
@Suite struct TransformerBlockTests {
    static let cases: [ComposedModels.Case] = [
        .init(name: "gpt2 sequential", config: ComposedModels.config()),
        .init(name: "neox parallel", config: ComposedModels.neox),
        .init(name: "llama sequential", config: ComposedModels.llama),
        .init(name: "rmsnorm parallel swiglu", config: ComposedModels.config(norm: "rmsnorm", position: "rope", activation: "swiglu", residual: "parallel")),
    ]

    @Test(arguments: cases)
    func residualWiringIsSequentialOrParallel(_ c: ComposedModels.Case) throws {
        let s = try BlockPartTests.setUp(c.config, seed: 7)
        let n = s.rows * s.a.hidden
        let x = s.hx.random(n)
        let cache = TransformerBlock.Cache(s.block, input: x, recycler: s.hx.recycler)
        let y = ScalarBuffer<Double>(count: n)
        s.block.forward(cache, into: y.pointer, s.w, rotary: s.rotary)

        // The same from the parts: ln₁, attention onto x, ln₂ of (x or mid), MLP onto mid.
        let norm = s.block.attentionNorm
        let n1 = NormLayer.Cache<Double>(norm, recycler: s.hx.recycler)
        norm.forward(x.pointer, s.w.attentionNorm, into: n1)
        let mid = ScalarBuffer<Double>(count: n)
        s.attention.forward(
            n1.y.pointer, residual: x.pointer, into: mid.pointer, s.w, rotary: s.rotary,
            cache: .init(s.attention, recycler: s.hx.recycler))
        let n2 = NormLayer.Cache<Double>(norm, recycler: s.hx.recycler)
        norm.forward(s.a.residual == .parallel ? x.pointer : mid.pointer, s.w.mlpNorm, into: n2)
        let expected = ScalarBuffer<Double>(count: n)
        s.mlp.forward(n2.y.pointer, residual: mid.pointer, into: expected.pointer, s.w, cache: .init(s.mlp, recycler: s.hx.recycler))
        #expect(y.array == expected.array)

        // And the wiring matters: the other residual gives another output.
        var other = c.config
        other.residual = s.a.residual == .parallel ? "sequential" : "parallel"
        let t = try BlockPartTests.setUp(other, seed: 7)
        let y2 = ScalarBuffer<Double>(count: n)
        t.block.forward(.init(t.block, input: x, recycler: t.hx.recycler), into: y2.pointer, t.w, rotary: t.rotary)
        #expect(TestModels.relativeL2(y.array, y2.array) > 1e-3)
    }

    @Test(arguments: cases)
    func blockBackwardMatchesCentralDifferences(_ c: ComposedModels.Case) throws {
        let s = try BlockPartTests.setUp(c.config, seed: 8)
        let n = s.rows * s.a.hidden
        let x = s.hx.random(n), r = s.hx.random(n)
        func forward() -> (TransformerBlock.Cache<Double>, ScalarBuffer<Double>) {
            let cache = TransformerBlock.Cache(s.block, input: x, recycler: s.hx.recycler), y = ScalarBuffer<Double>(count: n)
            s.block.forward(cache, into: y.pointer, s.w, rotary: s.rotary)
            return (cache, y)
        }
        let (cache, _) = forward()
        let dx = ScalarBuffer(r.array)
        let scratch = TransformerBlock.Scratch(s.block, dh: ScalarBuffer<Double>(count: n), recycler: s.hx.recycler)
        s.block.backward(dx.pointer, cache, s.w, rotary: s.rotary, scratch: scratch, grads: s.hx.sink)
        let kBias = Set(s.names.filter { $0.hasSuffix("attn.k.bias") })
        for e in s.hx.errors(inputs: [("x", x, dx.array)], zeroAllowed: kBias, loss: { PartHarness.dot(r, forward().1) }) {
            #expect(e.error < 1e-7, "\(c) \(e.name): relative L2 error \(e.error)")
            #expect(!e.allZero, "\(c) \(e.name): gradient identically zero")
        }
    }
}
