/// How a layout stores the rows of a query or key projection within each attention head, as
/// far as rotary position embedding pairs them (`LayoutRule.rope`).
///
/// Canonical tensors (`formats/tensor-names.md`) follow Hugging Face and megatron-core:
/// rotate-half, which rotates dimension k of a head with dimension k + head_dim / 2 (the
/// first half against the second half). Meta's original LLaMA code and torchtitan rotate
/// consecutive pairs (2k, 2k + 1) instead (`torch.view_as_complex` of `[..., head_dim / 2, 2]`).
/// Both compute the same attention when the rows are permuted per head, which is all this
/// describes: a pure permutation, so conversions stay bit-exact.
public enum RopeOrder: String, Codable, Sendable, Hashable {
    /// Consecutive pairs: stored row `2k + a` of a head (k < head_dim / 2, a in {0, 1}) is
    /// canonical row `a * head_dim / 2 + k` of the same head.
    case interleaved

    /// The canonical row (within one head of `headDim` rows) that stored row `row` holds.
    public func canonicalRow(ofStoredRow row: Int, headDim: Int) -> Int {
        switch self {
        case .interleaved: return (row % 2) * (headDim / 2) + row / 2
        }
    }

    /// The stored row (within one head of `headDim` rows) that holds canonical row `row`.
    public func storedRow(ofCanonicalRow row: Int, headDim: Int) -> Int {
        switch self {
        case .interleaved:
            let half = headDim / 2
            return 2 * (row % half) + row / half
        }
    }
}
