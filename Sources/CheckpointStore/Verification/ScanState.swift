/// What `CheckpointVerifier` accumulates over a tensor's bytes as the reader completes them:
/// the running xxh3_64 (when the tensor is read in several blocks) and the NaN/Inf count.
///
/// `@unchecked Sendable`: `consume` runs on one thread at a time (the reader's in-order
/// consumer), and the verifier reads the totals only after the reads returned.
final class ScanState: @unchecked Sendable {
    private let hasher: XXH3Hasher?
    private let dtype: DType
    /// NaN and infinite values seen so far.
    private(set) var nonFinite = 0

    init(hasher: XXH3Hasher?, dtype: DType) {
        self.hasher = hasher
        self.dtype = dtype
    }

    /// Feeds the next bytes of the tensor, in order.
    func consume(_ bytes: UnsafeRawBufferPointer) {
        hasher?.update(bytes)
        nonFinite += CheckpointVerifier.countNonFinite(bytes, dtype)
    }
}
