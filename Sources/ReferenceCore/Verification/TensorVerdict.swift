/// Results for one parameter tensor.
public struct TensorVerdict: Codable, Sendable {
    /// Canonical name.
    public var name: String
    /// Whether every check passed.
    public var passed: Bool
    /// The highest severity of its checks.
    public var severity: Double
    /// Checks in evaluation order.
    public var checks: [CheckResult]
    /// The element with the largest bound excess: "index i: after x, reference y".
    public var worstElement: String?

    enum CodingKeys: String, CodingKey {
        case name, passed, severity, checks
        case worstElement = "worst_element"
    }

    /// The first failing check, if any.
    public var firstFailure: CheckResult? { checks.first { !$0.passed } }
    /// The check with the highest severity.
    public var worst: CheckResult { checks.max { $0.severity < $1.severity } ?? CheckResult(check: "none", value: 0, limit: 0, passed: true, severity: 0) }
}
