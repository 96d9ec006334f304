/// One comparison: a value, its limit and whether it passed.
public struct CheckResult: Codable, Sendable, Hashable {
    /// `loss`, `exp_avg.relative_l2`, `update.scale`, ...
    public var check: String
    /// Measured value.
    public var value: Double
    /// The limit it was held to (meaning per check, see `formats/verify-step.md`).
    public var limit: Double
    /// Whether it passed.
    public var passed: Bool
    /// How far toward (≤ 1) or past (> 1) the limit the value is.
    public var severity: Double

    /// Creates a result.
    public init(check: String, value: Double, limit: Double, passed: Bool, severity: Double) {
        self.check = check
        self.value = value
        self.limit = limit
        self.passed = passed
        self.severity = severity
    }

    /// "check = value (limit ...)".
    public var line: String {
        "\(check) = \(StepVerificationReport.format(value)) (limit \(StepVerificationReport.format(limit)))"
    }
}
