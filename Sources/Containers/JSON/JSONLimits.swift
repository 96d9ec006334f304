/// The bounds `JSONReader` enforces on untrusted text, so a hostile document cannot exhaust the
/// stack or make a number parse run unbounded.
public struct JSONLimits: Sendable, Equatable {
    /// Deepest nesting of arrays and objects accepted (the top-level value is depth 1).
    public var maxDepth: Int
    /// Longest number literal accepted, in characters.
    public var maxNumberLength: Int

    /// Creates limits.
    public init(maxDepth: Int = 64, maxNumberLength: Int = 64) {
        self.maxDepth = maxDepth
        self.maxNumberLength = maxNumberLength
    }

    /// The defaults: depth 64, numbers of at most 64 characters. A safetensors header needs
    /// depth 3, a Hugging Face config.json about 4.
    public static let standard = JSONLimits()
}
