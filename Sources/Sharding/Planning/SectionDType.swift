import CheckpointStore

/// One stored section of a tensor (`model`, `optimizer/exp_avg`, ...) and its dtype.
public struct SectionDType: Sendable, Hashable {
    /// The section (`TensorKey.section`).
    public var section: String
    /// The element type stored in that section.
    public var dtype: DType

    /// Creates a pair.
    public init(section: String, dtype: DType) {
        self.section = section
        self.dtype = dtype
    }
}
