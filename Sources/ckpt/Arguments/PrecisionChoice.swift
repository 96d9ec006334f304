import ArgumentParser
import ReferenceCore

/// `--precision`: the tolerance profiles of `verify-step` (formats/verify-step.md).
enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable {
    case fp32, bf16

    /// The profile's limits.
    var tolerances: VerifyTolerances {
        guard let t = VerifyTolerances.profile(rawValue) else { preconditionFailure("every PrecisionChoice names a profile") }
        return t
    }
}
