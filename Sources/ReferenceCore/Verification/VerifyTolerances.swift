/// Limits of `ckpt verify-step`, per precision of the step under test
/// (`formats/verify-step.md`). Every field can be overridden.
public struct VerifyTolerances: Codable, Sendable, Hashable {
    /// Profile name (`fp32`, `bf16`).
    public var profile: String
    /// Max |loss_B − loss_ref| / |loss_ref|.
    public var lossRelative: Double
    /// Max ‖s_B − s_ref‖ / ‖s_ref‖ for exp_avg and exp_avg_sq.
    public var stateRelativeL2: Double
    /// Min cosine(s_B, s_ref) for exp_avg and exp_avg_sq.
    public var stateCosine: Double
    /// Max |⟨s_B − s_A, s_ref − s_A⟩ / ‖s_ref − s_A‖² − 1| (does the state move as it should).
    public var stateStepScale: Double
    /// Max ‖Δθ_B − Δθ_ref‖ / ‖Δθ_ref‖.
    public var updateRelativeL2: Double
    /// Max |⟨Δθ_B, Δθ_ref⟩ / ⟨Δθ_ref, Δθ_ref⟩ − 1|.
    public var updateScale: Double
    /// Max elementwise |θ_B − θ_ref| (beyond rounding) in units of lr·B(t), the Adam
    /// per-element bound.
    public var elementBound: Double
    /// Max |decay scale − 1| (applied when also beyond 4 standard errors).
    public var decayScale: Double
    /// Rounding allowance per element: this many ulps of the compared value's storage type.
    public var roundingULPs: Double

    enum CodingKeys: String, CodingKey {
        case profile
        case lossRelative = "loss_relative", stateRelativeL2 = "state_relative_l2", stateCosine = "state_cosine"
        case stateStepScale = "state_step_scale", updateRelativeL2 = "update_relative_l2", updateScale = "update_scale"
        case elementBound = "element_bound", decayScale = "decay_scale", roundingULPs = "rounding_ulps"
    }

    /// fp32 steps: the accelerator computed in fp32 (or TF32-free fp32 matmuls).
    public static let fp32 = VerifyTolerances(
        profile: "fp32", lossRelative: 1e-4, stateRelativeL2: 1e-3, stateCosine: 0.999999, stateStepScale: 1e-3,
        updateRelativeL2: 1e-2, updateScale: 1e-3, elementBound: 0.05, decayScale: 0.05, roundingULPs: 4)

    /// bf16 mixed-precision steps: bf16 activations/matmuls, fp32 gradients, masters and state.
    public static let bf16 = VerifyTolerances(
        profile: "bf16", lossRelative: 2e-2, stateRelativeL2: 0.1, stateCosine: 0.99, stateStepScale: 0.25,
        updateRelativeL2: 0.25, updateScale: 0.03, elementBound: 2.0, decayScale: 0.5, roundingULPs: 1)

    /// The named profile, or nil.
    public static func profile(_ name: String) -> VerifyTolerances? {
        switch name.lowercased() {
        case "fp32", "float32": return fp32
        case "bf16", "bfloat16": return bf16
        default: return nil
        }
    }
}
