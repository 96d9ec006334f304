import CVectorMath
import CheckpointStore
import Foundation
import Testing

@testable import ReferenceCore

/// The optimizer variants against values worked out by hand.
@Suite struct AdamWTests {
    /// One element through `AdamW.update`.
    func step(
        _ cfg: OptimizerConfig, theta: Float, grad: Float, m: Float, v: Float, completed: Int64,
        decay: Bool = true, scale: Float = 1
    ) throws -> (theta: Float, m: Float, v: Float, bf16: UInt16) {
        let opt = try AdamW(config: cfg)
        var th = theta, g = grad, mm = m, vv = v
        var r: UInt16 = 0
        opt.update(
            theta: &th, grad: &g, expAvg: &mm, expAvgSq: &vv, count: 1, decay: decay, gradScale: scale,
            completedSteps: completed, roundedOut: &r)
        return (th, mm, vv, r)
    }

    // θ=1, g=0.5, m=v=0, first step, lr 0.1, β=(0.9, 0.999), ε=1e-8, λ=0.01:
    // m=0.05, v=0.00025, bc₁=0.1, bc₂=0.001, m̂=0.5, v̂=0.25.
    @Test func torchVariantFirstStep() throws {
        let cfg = OptimizerConfig(variant: "torch", lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradClip: 0, decay: "all")
        let r = try step(cfg, theta: 1, grad: 0.5, m: 0, v: 0, completed: 0)
        // θ·(1 − 0.001) = 0.999, minus (0.1/0.1)·0.05/(0.5 + 1e-8) = 0.09999999800.
        #expect(abs(Double(r.theta) - 0.8990000020) < 1e-7)
        #expect(abs(Double(r.m) - 0.05) < 1e-9)
        #expect(abs(Double(r.v) - 0.00025) < 5e-11)
    }

    @Test func decoupledVariantFirstStep() throws {
        let cfg = OptimizerConfig(variant: "decoupled", lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradClip: 0, decay: "all")
        let r = try step(cfg, theta: 1, grad: 0.5, m: 0, v: 0, completed: 0)
        // 1 − 0.1·(0.5/(0.5 + 1e-8) + 0.01·1) = 0.898999998.
        #expect(abs(Double(r.theta) - 0.898999998) < 1e-7)
    }

    // A later step: θ=2, g=−1, m=0.2, v=0.04 after 2 completed steps, lr 0.01, β=(0.8, 0.9),
    // ε=0.001, λ=0.5. m' = 0.2 + (−1 − 0.2)·0.2 = −0.04; v' = 0.036 + 0.1 = 0.136;
    // bc₁ = 1 − 0.8³ = 0.488, bc₂ = 1 − 0.9³ = 0.271.
    @Test func laterStepUsesStoredStepCount() throws {
        let base = OptimizerConfig(variant: "torch", lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 0.001, weightDecay: 0.5, gradClip: 0, decay: "all")
        let t = try step(base, theta: 2, grad: -1, m: 0.2, v: 0.04, completed: 2)
        #expect(abs(Double(t.m) - (-0.04)) < 1e-7)
        #expect(abs(Double(t.v) - 0.136) < 1e-7)
        // torch: 2·(1 − 0.005) = 1.99; denom = √0.136/√0.271 + 0.001 = 0.709413...;
        // θ = 1.99 − (0.01/0.488)·(−0.04)/0.7094135 = 1.99 + 0.00115546...
        let denomT = (0.136).squareRoot() / (0.271).squareRoot() + 0.001
        #expect(abs(Double(t.theta) - (1.99 + 0.01 / 0.488 * 0.04 / denomT)) < 2e-7)
        #expect(abs(Double(t.theta) - 1.9911555) < 1e-6)
        var d = base
        d.variant = "decoupled"
        let u = try step(d, theta: 2, grad: -1, m: 0.2, v: 0.04, completed: 2)
        // decoupled: m̂ = −0.0819672, v̂ = 0.501845, √v̂ + ε = 0.709412; θ = 2 − 0.01·(−0.115543 + 1).
        let mHat = -0.04 / 0.488, vHat = 0.136 / 0.271
        let expected = 2 - 0.01 * (mHat / (vHat.squareRoot() + 0.001) + 0.5 * 2)
        #expect(abs(Double(u.theta) - expected) < 2e-7)
        #expect(abs(Double(u.theta) - 1.99115543) < 1e-6)
        // Same step computed a step earlier in the count gives a different bias correction.
        let earlier = try step(base, theta: 2, grad: -1, m: 0.2, v: 0.04, completed: 1)
        #expect(abs(earlier.theta - t.theta) > 1e-5)
    }

    @Test func decayOnMatricesOnlyAndSwitchedOff() throws {
        let opt = try AdamW(config: OptimizerConfig(variant: "torch", decay: "matrices"))
        #expect(opt.decays(shape: [4, 4]))
        #expect(!opt.decays(shape: [4]))
        let all = try AdamW(config: OptimizerConfig(variant: "torch", decay: "all"))
        #expect(all.decays(shape: [4]))
        let cfg = OptimizerConfig(variant: "decoupled", lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradClip: 0, decay: "all")
        let r = try step(cfg, theta: 1, grad: 0.5, m: 0, v: 0, completed: 0, decay: false)
        #expect(abs(Double(r.theta) - (1 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-7)
    }

    @Test func gradientScaleAppliesBeforeTheMoments() throws {
        let cfg = OptimizerConfig(variant: "torch", lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 1, decay: "all")
        let r = try step(cfg, theta: 1, grad: 0.5, m: 0.1, v: 0.01, completed: 3, scale: 0.25)
        #expect(abs(Double(r.m) - (0.1 + (0.125 - 0.1) * 0.1)) < 1e-8)
        #expect(abs(Double(r.v) - (0.01 * 0.999 + 0.001 * 0.125 * 0.125)) < 1e-9)
    }

    @Test func clipCoefficient() throws {
        let on = try AdamW(config: OptimizerConfig(gradClip: 1.0))
        #expect(abs(on.clipCoefficient(globalNorm: 4.0) - 1.0 / (4.0 + 1e-6)) < 1e-15)
        #expect(on.clipCoefficient(globalNorm: 0.5) == 1)
        let off = try AdamW(config: OptimizerConfig(gradClip: 0))
        #expect(off.clipCoefficient(globalNorm: 100) == 1)
        let g = TensorBuffers<Float>(tensors: [("a", [2]), ("b", [1, 2])])
        g.set("a", [3, 0])
        g.set("b", [0, 4])
        #expect(Reductions.globalNorm(g) == 5)
    }

    @Test func masterWeightsRoundToNearestEvenBFloat16() throws {
        // lr 0 leaves θ; the rounded copy is the bf16 nearest to θ, ties to even.
        let cfg = OptimizerConfig(variant: "torch", lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0, decay: "all")
        let tie = Float(bitPattern: 0x3F80_8000)  // halfway between bf16 0x3F80 and 0x3F81 → even 0x3F80
        #expect(try step(cfg, theta: tie, grad: 1, m: 0, v: 0, completed: 0).bf16 == 0x3F80)
        let tieUp = Float(bitPattern: 0x3F81_8000)  // halfway between 0x3F81 and 0x3F82 → 0x3F82
        #expect(try step(cfg, theta: tieUp, grad: 1, m: 0, v: 0, completed: 0).bf16 == 0x3F82)
        let above = Float(bitPattern: 0x3F80_8001)
        #expect(try step(cfg, theta: above, grad: 1, m: 0, v: 0, completed: 0).bf16 == 0x3F81)
    }

    @Test func elementBoundIsOneOnTheFirstStepAndGrows() throws {
        let opt = try AdamW(config: OptimizerConfig(beta1: 0.9, beta2: 0.95))
        #expect(abs(opt.elementBound(completedSteps: 0) - 1) < 1e-12)
        #expect(opt.elementBound(completedSteps: 10) > 1)
        // A gradient history that saturates it: constant sign, constant size, gives |m̂/√v̂| = 1.
        #expect(opt.elementBound(completedSteps: 10) >= 1)
    }

    @Test func unknownVariantIsRejected() {
        #expect(throws: ReferenceError.self) { try AdamW(config: OptimizerConfig(variant: "lamb")) }
        #expect(throws: ReferenceError.self) { try AdamW(config: OptimizerConfig(decay: "norms")) }
    }

    /// The 8-lane loop (taken when no bf16 output is requested; each build of the C kernels this
    /// CPU runs) gives bit-identical results to the per-element loop, for both variants, with and
    /// without decay, including a tail.
    @Test(arguments: ["torch", "decoupled"], [true, false])
    func vectorLoopMatchesScalarLoopBitForBit(variant: String, decay: Bool) throws {
        for build in VectorKernelsTests.variants {
            try vectorLoopMatchesScalarLoop(variant: variant, decay: decay, kernels: VectorKernelsTests.kernels(build))
        }
    }

    func vectorLoopMatchesScalarLoop(variant: String, decay: Bool, kernels: ckpt_vector_kernels) throws {
        let cfg = OptimizerConfig(variant: variant, lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1, decay: "all")
        let opt = try AdamW(config: cfg)
        let n = 8 * 1500 + 5
        var rng = SystemRandomNumberGenerator()
        let theta0 = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let grad = (0..<n).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
        let m0 = (0..<n).map { _ in Float.random(in: -0.01...0.01, using: &rng) }
        let v0 = (0..<n).map { _ in Float.random(in: 0...1e-4, using: &rng) }
        var tv = theta0, mv = m0, vv = v0
        opt.update(
            theta: &tv, grad: grad, expAvg: &mv, expAvgSq: &vv, count: n, decay: decay, gradScale: 0.7, completedSteps: 41,
            roundedOut: nil, thetaSource: nil, kernels: kernels)
        var ts = theta0, ms = m0, vs = v0, bits = [UInt16](repeating: 0, count: n)
        // With roundedOut every element goes through the scalar loop.
        opt.update(
            theta: &ts, grad: grad, expAvg: &ms, expAvgSq: &vs, count: n, decay: decay, gradScale: 0.7, completedSteps: 41,
            roundedOut: &bits)
        #expect(tv.map(\.bitPattern) == ts.map(\.bitPattern))
        #expect(mv.map(\.bitPattern) == ms.map(\.bitPattern))
        #expect(vv.map(\.bitPattern) == vs.map(\.bitPattern))
        #expect(tv != theta0)
    }
}
