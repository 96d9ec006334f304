import CheckpointStore

/// One stored section of a tensor (`model`, `optimizer/exp_avg`, ...) and its dtype.
///
/// For an output section, `sourceSection` and `sourceDType` say what it is filled from: the
/// section itself as stored, or, when the target keeps a wider type than the source
/// (`OptimizerStatePolicy`), a 16-bit float section widened exactly to `dtype` — possibly
/// another section (a float32 `optimizer/master` made from the 16-bit `model` tensor).
public struct SectionDType: Sendable, Hashable {
    /// The section (`TensorKey.section`).
    public var section: String
    /// The element type stored in that section.
    public var dtype: DType
    /// The source section the data comes from (`section` unless widened from another one).
    public var sourceSection: String
    /// The element type of the source data (`dtype` unless widened).
    public var sourceDType: DType

    /// Creates a pair, filled from the same section and dtype.
    public init(section: String, dtype: DType) {
        self.init(section: section, dtype: dtype, from: section, dtype: dtype)
    }

    /// Creates a section filled from `sourceSection`, stored there as `sourceDType`.
    public init(section: String, dtype: DType, from sourceSection: String, dtype sourceDType: DType) {
        self.section = section
        self.dtype = dtype
        self.sourceSection = sourceSection
        self.sourceDType = sourceDType
    }

    /// Whether the section is filled from other bytes than its own (another section or dtype).
    public var isDerived: Bool { sourceSection != section || sourceDType != dtype }

    /// The section as the source stores it.
    public var source: SectionDType { SectionDType(section: sourceSection, dtype: sourceDType) }
}
