/// Rotary frequency scaling: how a model's RoPE inverse frequencies are changed from the plain
/// `theta^(-2i/d)`, stored as the optional `rope_scaling` member of `model_config`.
///
/// Two types, with the parameters each needs (JSON keys snake_case):
/// - `llama3` (Llama 3.1 / 3.2 / 3.3, torchtitan's `scaling: "llama"`, megatron-core's
///   `--use-rope-scaling`): `factor`, `low_freq_factor`, `high_freq_factor`,
///   `original_max_seq` (the context length of pretraining, transformers'
///   `original_max_position_embeddings`). Frequencies whose wavelength exceeds
///   `original_max_seq / low_freq_factor` are divided by `factor`, those shorter than
///   `original_max_seq / high_freq_factor` are kept, and the band between is interpolated.
/// - `linear` (position interpolation): `factor`; every frequency is divided by it.
///
/// Only the config changes: the tensors of a scaled model are those of the unscaled one. A
/// value is checked by `validationProblem()`; decoding accepts any type and parameters, so a
/// file with an unknown type still opens and `verify` names the type.
public struct RopeScaling: Codable, Sendable, Hashable {
    /// `llama3` or `linear`.
    public var type: String
    /// The scaling factor (both types): long wavelengths are stretched by it.
    public var factor: Double?
    /// `llama3`: wavelengths above `originalMaxSeq / lowFreqFactor` are fully scaled.
    public var lowFreqFactor: Double?
    /// `llama3`: wavelengths below `originalMaxSeq / highFreqFactor` are kept.
    public var highFreqFactor: Double?
    /// `llama3`: the context length the model was pretrained at.
    public var originalMaxSeq: Int?

    enum CodingKeys: String, CodingKey {
        case type, factor
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor", originalMaxSeq = "original_max_seq"
    }

    /// The types ckpt computes.
    public static let types = ["llama3", "linear"]

    /// A scaling of any type with the given parameters (see `validationProblem()`).
    public init(type: String, factor: Double?, lowFreqFactor: Double? = nil, highFreqFactor: Double? = nil, originalMaxSeq: Int? = nil) {
        self.type = type
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxSeq = originalMaxSeq
    }

    /// Llama 3.x scaling (Llama 3.1: factor 8, low 1, high 4, original 8192).
    public static func llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxSeq: Int) -> RopeScaling {
        RopeScaling(type: "llama3", factor: factor, lowFreqFactor: lowFreqFactor, highFreqFactor: highFreqFactor, originalMaxSeq: originalMaxSeq)
    }

    /// Linear scaling (position interpolation) by `factor`.
    public static func linear(factor: Double) -> RopeScaling { RopeScaling(type: "linear", factor: factor) }

    /// The first problem of this value, as one line starting with `rope_scaling`: an unknown
    /// type (named), a parameter the type needs that is missing, one it does not take, or a
    /// value out of range (factors finite and positive, `high_freq_factor` above
    /// `low_freq_factor`, `original_max_seq` positive).
    public func validationProblem() -> String? {
        guard Self.types.contains(type) else {
            return "rope_scaling.type '\(type)' is not a scaling ckpt computes (llama3 or linear)"
        }
        let needs = type == "llama3" ? "factor, low_freq_factor, high_freq_factor and original_max_seq" : "factor"
        func missing(_ key: String) -> String { "rope_scaling.\(key): missing (type \(type) needs \(needs))" }
        guard let factor else { return missing("factor") }
        guard factor.isFinite && factor > 0 else { return "rope_scaling.factor must be a positive number (got \(factor))" }
        if type == "linear" {
            for (key, present) in [
                ("low_freq_factor", lowFreqFactor != nil), ("high_freq_factor", highFreqFactor != nil), ("original_max_seq", originalMaxSeq != nil),
            ] where present {
                return "rope_scaling.\(key) is not a parameter of type linear (it takes factor only)"
            }
            return nil
        }
        guard let low = lowFreqFactor else { return missing("low_freq_factor") }
        guard let high = highFreqFactor else { return missing("high_freq_factor") }
        guard let original = originalMaxSeq else { return missing("original_max_seq") }
        guard low.isFinite && low > 0 else { return "rope_scaling.low_freq_factor must be a positive number (got \(low))" }
        guard high.isFinite && high > low else {
            return "rope_scaling.high_freq_factor must be a number above low_freq_factor \(low) (got \(high))"
        }
        guard original > 0 else { return "rope_scaling.original_max_seq must be positive (got \(original))" }
        return nil
    }

    /// One line for reports: `llama3 (factor 8.0, low_freq_factor 1.0, high_freq_factor 4.0,
    /// original_max_seq 8192)` or `linear (factor 2.0)`.
    public var summary: String {
        var parts: [String] = []
        if let factor { parts.append("factor \(factor)") }
        if let lowFreqFactor { parts.append("low_freq_factor \(lowFreqFactor)") }
        if let highFreqFactor { parts.append("high_freq_factor \(highFreqFactor)") }
        if let originalMaxSeq { parts.append("original_max_seq \(originalMaxSeq)") }
        return "\(type) (\(parts.joined(separator: ", ")))"
    }
}
