/// One training batch: `inputs` and `targets`, both `[batchSize, sequenceLength]` int32 in
/// C order. A target of -1 is ignored by the loss. File format: `formats/batch-v1.md`.
public struct TokenBatch: Sendable, Equatable {
    /// B, sequences in the batch.
    public var batchSize: Int
    /// T, tokens per sequence.
    public var sequenceLength: Int
    /// Input token ids, B·T of them.
    public var inputs: [Int32]
    /// Target token ids (next tokens), B·T of them; -1 = ignored.
    public var targets: [Int32]

    /// Creates a batch; `inputs` and `targets` must each hold `batchSize * sequenceLength` ids.
    public init(batchSize: Int, sequenceLength: Int, inputs: [Int32], targets: [Int32]) {
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.inputs = inputs
        self.targets = targets
    }

    /// Number of targets that count in the loss (those ≠ -1).
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// Checks the batch against a model: sizes agree, T ≤ max_seq, ids in range, at least one
    /// target. `path` names the batch file in errors.
    public func validate(vocab: Int, maxSeq: Int, path: String) throws(ReferenceError) {
        let n = batchSize * sequenceLength
        guard batchSize > 0, sequenceLength > 0, inputs.count == n, targets.count == n else {
            throw .badBatch(
                path: path,
                detail: "inputs/targets must both be [B,T] with B,T > 0 (B=\(batchSize), T=\(sequenceLength), \(inputs.count) inputs, \(targets.count) targets)"
            )
        }
        guard sequenceLength <= maxSeq else {
            throw .badBatch(path: path, detail: "T=\(sequenceLength) exceeds the model's max_seq \(maxSeq)")
        }
        for (i, v) in inputs.enumerated() where v < 0 || Int(v) >= vocab {
            throw .tokenOutOfRange(path: path, tensor: "inputs", index: i, value: v, vocab: vocab)
        }
        for (i, v) in targets.enumerated() where v < -1 || Int(v) >= vocab {
            throw .tokenOutOfRange(path: path, tensor: "targets", index: i, value: v, vocab: vocab)
        }
        if targetCount == 0 { throw .noTargets(path: path) }
    }
}
