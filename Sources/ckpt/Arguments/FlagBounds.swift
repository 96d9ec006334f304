import ArgumentParser

/// Range checks for numeric flags, run in `validate()` before any work starts. The limits are
/// what the format and the tool can represent (sizes whose products fit the 64-bit counts,
/// token ids that fit the batch file's int32), not what a disk can hold.
enum FlagBounds {
    /// Transformer blocks.
    static let layers = 1...1024
    /// Hidden size.
    static let hidden = 1...65_536
    /// MLP width.
    static let ffn = 1...262_144
    /// Vocabulary size (token ids are int32 in batch files).
    static let vocab = 1...Int(Int32.max)
    /// Maximum sequence length.
    static let maxSeq = 1...1_048_576
    /// Encoder threads.
    static let threads = 1...1024
    /// Tensor- or pipeline-parallel size.
    static let parallel = 1...4096
    /// Rank files of a Megatron layout (TP x PP).
    static let rankFiles = 65_536
    /// `--vocab-divisible-by` (Megatron's default is 128).
    static let vocabDivisibleBy = 1...65_536
    /// The vocabulary padding multiple, `--vocab-divisible-by` x TP.
    static let paddingMultiple = 1 << 20
    /// Parameters of a synthesised model (about 4 TB of fp32).
    static let parameters = 1...(1 << 40)

    /// Throws a one-line validation error unless `value` lies in `range`.
    static func check<T: Comparable & CustomStringConvertible>(_ flag: String, _ value: T?, _ range: ClosedRange<T>) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ValidationError("--\(flag) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
    }
}
