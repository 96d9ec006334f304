import CVectorMath
import CheckpointStore
import Foundation

/// AdamW in the two variants real trainers use, with the formulas of `formats/optimizer.md`.
///
/// - `torch` (PyTorch `torch.optim.AdamW`): θ ← θ·(1 − lr·λ); m ← m + (g − m)(1 − β₁);
///   v ← β₂v + (1 − β₂)g²; θ ← θ − (lr/bc₁)·m / (√v/√bc₂ + ε).
/// - `decoupled` (Apex FusedAdam / Megatron / llm.c): m, v as above;
///   θ ← θ − lr·(m/bc₁ / (√(v/bc₂) + ε) + λθ).
///
/// bc₁ = 1 − β₁ᵗ⁺¹ and bc₂ = 1 − β₂ᵗ⁺¹ for a checkpoint that has completed t steps. λ applies
/// to every tensor (`decay: all`) or to tensors of rank ≥ 2 (`decay: matrices`).
public struct AdamW: Sendable {
    /// The two update rules.
    public enum Variant: String, Sendable {
        /// PyTorch's AdamW.
        case torch
        /// Apex/Megatron/llm.c AdamW.
        case decoupled
    }

    /// The hyperparameters as stored in the checkpoint.
    public let config: OptimizerConfig
    /// The parsed variant.
    public let variant: Variant

    /// Accepts `config` if its variant and decay rule are known. `path` names the checkpoint
    /// in errors.
    public init(config: OptimizerConfig, path: String = "optimizer") throws(ReferenceError) {
        guard let v = Variant(rawValue: config.variant) else {
            throw .unsupportedModel(path: path, detail: "optimizer variant '\(config.variant)' (expected torch or decoupled)")
        }
        guard config.decay == "all" || config.decay == "matrices" else {
            throw .unsupportedModel(path: path, detail: "optimizer decay '\(config.decay)' (expected all or matrices)")
        }
        guard config.lr.isFinite, config.eps >= 0, config.beta1 >= 0, config.beta1 < 1, config.beta2 >= 0, config.beta2 < 1 else {
            throw .unsupportedModel(
                path: path, detail: "optimizer hyperparameters out of range (lr \(config.lr), betas \(config.beta1), \(config.beta2), eps \(config.eps))")
        }
        self.config = config
        variant = v
    }

    /// Whether weight decay applies to a tensor of this shape.
    public func decays(shape: [Int]) -> Bool { config.decay == "all" || shape.count >= 2 }

    /// Bias corrections (bc₁, bc₂) for the step after `completedSteps`.
    public func biasCorrections(completedSteps: Int64) -> (Double, Double) {
        let t = Double(completedSteps + 1)
        return (1 - Foundation.pow(config.beta1, t), 1 - Foundation.pow(config.beta2, t))
    }

    /// Updates one tensor in a single pass over memory: `theta` (the fp32 weights, or the fp32
    /// master copy), `expAvg`, `expAvgSq` in place from `grad · gradScale` (the clipping
    /// coefficient, 1 when not clipping). When `roundedOut` is given, also writes the new θ
    /// rounded to bfloat16 (round to nearest, ties to even) there. When `thetaSource` is given,
    /// θ is read from it and the new θ written to `theta` (which then need not be initialised),
    /// so a caller keeping θ before the step needs no copy.
    public func update(
        theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, expAvg: UnsafeMutablePointer<Float>,
        expAvgSq: UnsafeMutablePointer<Float>, count: Int, decay: Bool, gradScale: Float,
        completedSteps: Int64, roundedOut: UnsafeMutablePointer<UInt16>? = nil, thetaSource: UnsafePointer<Float>? = nil
    ) {
        update(
            theta: theta, grad: grad, expAvg: expAvg, expAvgSq: expAvgSq, count: count, decay: decay, gradScale: gradScale,
            completedSteps: completedSteps, roundedOut: roundedOut, thetaSource: thetaSource, kernels: ckpt_vector_kernels_best().pointee)
    }

    /// `update` with the given build of the vector kernels (tests run each build).
    func update(
        theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, expAvg: UnsafeMutablePointer<Float>,
        expAvgSq: UnsafeMutablePointer<Float>, count: Int, decay: Bool, gradScale: Float,
        completedSteps: Int64, roundedOut: UnsafeMutablePointer<UInt16>?, thetaSource: UnsafePointer<Float>?,
        kernels vectorKernels: ckpt_vector_kernels
    ) {
        let (bc1, bc2) = biasCorrections(completedSteps: completedSteps)
        let lr = config.lr, wd = decay ? config.weightDecay : 0
        let b1 = Float(config.beta1), b2 = Float(config.beta2), eps = Float(config.eps)
        let oneMinusB1 = Float(1 - config.beta1), oneMinusB2 = Float(1 - config.beta2)
        let tp = SharedPointer(theta), sp = SharedPointer(UnsafeMutablePointer(mutating: thetaSource ?? UnsafePointer(theta)))
        let gp = SharedPointer(UnsafeMutablePointer(mutating: grad))
        let mp = SharedPointer(expAvg), vp = SharedPointer(expAvgSq)
        let decayFactor = Float(1 - lr * wd), stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
        let lrF = Float(lr), wdF = Float(wd), invBc1 = Float(1 / bc1), invBc2 = Float(1 / bc2)
        guard let rp = roundedOut.map({ SharedPointer($0) }) else {
            // The scalar loops' operations in the same order on 8 lanes, in C (baseline or AVX2
            // build): bit-identical results; θ·1 = θ when there is no decay.
            let constants = ckpt_adamw_constants(
                grad_scale: gradScale, beta1: b1, one_minus_beta1: oneMinusB1, beta2: b2, one_minus_beta2: oneMinusB2, eps: eps,
                decay_factor: wd != 0 ? decayFactor : 1, step_size: stepSize, bc2_sqrt: bc2Sqrt,
                lr: lrF, weight_decay: wdF, inv_bc1: invBc1, inv_bc2: invBc2)
            let pass = variant == .torch ? vectorKernels.adamw_torch : vectorKernels.adamw_decoupled
            Parallel.forRanges(count, grain: 8192) { r in
                let o = r.lowerBound
                withUnsafePointer(to: constants) { pass(tp.p + o, sp.p + o, gp.p + o, mp.p + o, vp.p + o, r.count, $0) }
            }
            return
        }
        // With bf16 output, element by element (each new θ also rounded).
        switch variant {
        case .torch:
            Parallel.forRanges(count, grain: 8192) { r in
                for i in r {
                    let g = gp.p[i] * gradScale
                    var th = sp.p[i]
                    if wd != 0 { th *= decayFactor }
                    let m = mp.p[i] + (g - mp.p[i]) * oneMinusB1
                    let v = vp.p[i] * b2 + oneMinusB2 * g * g
                    let denom = v.squareRoot() / bc2Sqrt + eps
                    th += -stepSize * (m / denom)
                    mp.p[i] = m
                    vp.p[i] = v
                    tp.p[i] = th
                    rp.p[i] = HalfPrecision.bf16Bits(from: th)
                }
            }
        case .decoupled:
            Parallel.forRanges(count, grain: 8192) { r in
                for i in r {
                    let g = gp.p[i] * gradScale
                    var th = sp.p[i]
                    let m = b1 * mp.p[i] + oneMinusB1 * g
                    let v = b2 * vp.p[i] + oneMinusB2 * g * g
                    let mHat = m * invBc1, vHat = v * invBc2
                    th -= lrF * (mHat / (vHat.squareRoot() + eps) + wdF * th)
                    mp.p[i] = m
                    vp.p[i] = v
                    tp.p[i] = th
                    rp.p[i] = HalfPrecision.bf16Bits(from: th)
                }
            }
        }
    }

    /// The clipping coefficient for a global gradient norm: max_norm / (norm + 1e-6) when that
    /// is below 1 and clipping is on (`grad_clip > 0`), else 1.
    public func clipCoefficient(globalNorm: Double) -> Double {
        guard config.gradClip > 0 else { return 1 }
        let c = config.gradClip / (globalNorm + 1e-6)
        return c < 1 ? c : 1
    }

    /// The largest |m̂/(√v̂ + ε)| any gradient history can produce at the step after
    /// `completedSteps` (Cauchy–Schwarz on the moment sums):
    /// (1 − β₁)/√(1 − β₂) · √(Σ_{j<t+1} (β₁²/β₂)ʲ) · √bc₂/bc₁. The step's weight change is at most
    /// lr times this plus the decay term.
    public func elementBound(completedSteps: Int64) -> Double {
        let (bc1, bc2) = biasCorrections(completedSteps: completedSteps)
        let r = config.beta1 * config.beta1 / max(config.beta2, 1e-300)
        let n = Double(completedSteps + 1)
        let series = abs(r - 1) < 1e-12 ? n : (1 - Foundation.pow(r, n)) / (1 - r)
        return (1 - config.beta1) / (1 - config.beta2).squareRoot() * series.squareRoot() * bc2.squareRoot() / bc1
    }
}
