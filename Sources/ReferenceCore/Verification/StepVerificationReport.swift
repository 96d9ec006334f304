import Foundation

/// The outcome of `StepVerifier.verify`: a verdict, global checks, and per-tensor results with
/// the worst tensors first. JSON-encodable (snake_case keys).
public struct StepVerificationReport: Codable, Sendable {
    /// True when every check passed.
    public var passed: Bool
    /// `pass` or `fail`.
    public var verdict: String { passed ? "pass" : "fail" }
    /// The tolerance profile used.
    public var tolerances: VerifyTolerances
    /// Before/after checkpoints and batch.
    public var before: String, after: String, batch: String
    /// Steps completed by the before checkpoint.
    public var stepBefore: Int64
    /// Reference loss (Float64).
    public var referenceLoss: Double
    /// Gradient norm before clipping and the clipping coefficient applied.
    public var gradNorm: Double, clipCoefficient: Double
    /// Checks on the whole step (loss, step count).
    public var global: [CheckResult]
    /// One entry per parameter, failing ones first, each group worst first.
    public var tensors: [TensorVerdict]
    /// How the step was run within its memory budget (not part of the encoded report; the
    /// command line adds it to its JSON as `plan`).
    public var plan: PipelinePlan? = nil

    enum CodingKeys: String, CodingKey {
        case passed, verdict, tolerances, before, after, batch, global, tensors
        case stepBefore = "step_before", referenceLoss = "reference_loss", gradNorm = "grad_norm"
        case clipCoefficient = "clip_coefficient"
    }

    /// Creates a report.
    public init(
        passed: Bool, tolerances: VerifyTolerances, before: String, after: String, batch: String, stepBefore: Int64,
        referenceLoss: Double, gradNorm: Double, clipCoefficient: Double, global: [CheckResult], tensors: [TensorVerdict]
    ) {
        self.passed = passed
        self.tolerances = tolerances
        self.before = before
        self.after = after
        self.batch = batch
        self.stepBefore = stepBefore
        self.referenceLoss = referenceLoss
        self.gradNorm = gradNorm
        self.clipCoefficient = clipCoefficient
        self.global = global
        self.tensors = tensors
    }

    /// Decodes, ignoring the derived `verdict`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        passed = try c.decode(Bool.self, forKey: .passed)
        tolerances = try c.decode(VerifyTolerances.self, forKey: .tolerances)
        before = try c.decode(String.self, forKey: .before)
        after = try c.decode(String.self, forKey: .after)
        batch = try c.decode(String.self, forKey: .batch)
        stepBefore = try c.decode(Int64.self, forKey: .stepBefore)
        referenceLoss = try c.decode(Double.self, forKey: .referenceLoss)
        gradNorm = try c.decode(Double.self, forKey: .gradNorm)
        clipCoefficient = try c.decode(Double.self, forKey: .clipCoefficient)
        global = try c.decode([CheckResult].self, forKey: .global)
        tensors = try c.decode([TensorVerdict].self, forKey: .tensors)
    }

    /// Encodes, including `verdict`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(passed, forKey: .passed)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(tolerances, forKey: .tolerances)
        try c.encode(before, forKey: .before)
        try c.encode(after, forKey: .after)
        try c.encode(batch, forKey: .batch)
        try c.encode(stepBefore, forKey: .stepBefore)
        try c.encode(referenceLoss, forKey: .referenceLoss)
        try c.encode(gradNorm, forKey: .gradNorm)
        try c.encode(clipCoefficient, forKey: .clipCoefficient)
        try c.encode(global, forKey: .global)
        try c.encode(tensors, forKey: .tensors)
    }

    /// The failing tensors' names, worst first.
    public var failingTensors: [String] { tensors.filter { !$0.passed }.map(\.name) }

    /// A short human-readable summary: verdict, failed global checks, then up to `limit`
    /// tensors (failing ones first) with their first failing check.
    public func summary(limit: Int = 10) -> String {
        var lines = [
            "verify-step: \(verdict.uppercased()) (\(tolerances.profile) tolerances; step \(stepBefore) -> \(stepBefore + 1); reference loss \(referenceLoss), grad norm \(gradNorm), clip \(clipCoefficient))"
        ]
        for g in global { lines.append("  \(g.passed ? "ok  " : "FAIL") \(g.line)") }
        let failing = tensors.filter { !$0.passed }
        lines.append("  \(failing.count) of \(tensors.count) tensors failed")
        for t in tensors.prefix(limit) {
            if let f = t.firstFailure {
                lines.append("  FAIL \(t.name): \(f.line)\(t.worstElement.map { " (worst element \($0))" } ?? "")")
            } else {
                lines.append("  ok   \(t.name) (worst \(t.worst.check) at \(Self.format(t.severity)) of its limit)")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ x: Double) -> String {
        if x.isNaN || x.isInfinite { return "\(x)" }
        return String(format: "%.3g", x)
    }
}

extension StepVerificationReport {
    /// The encoder for reports: sorted keys, and non-finite numbers (an infinite severity, a
    /// NaN in a corrupted tensor) as the strings "inf", "-inf", "nan".
    public static func jsonEncoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// The matching decoder.
    public static func jsonDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// The report as JSON text.
    public func jsonText(pretty: Bool = true) -> String {
        String(decoding: (try? Self.jsonEncoder(pretty: pretty).encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
