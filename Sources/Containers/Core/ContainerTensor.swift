import CheckpointStore

/// A tensor as a container lists it: key, element type and shape.
public struct ContainerTensor: Sendable, Hashable {
    /// Section and stored name.
    public var key: TensorKey
    /// Element type.
    public var dtype: DType
    /// Shape (empty for a scalar).
    public var shape: [Int]

    /// Creates a description.
    public init(key: TensorKey, dtype: DType, shape: [Int]) {
        self.key = key
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of bytes.
    public var byteCount: Int { count * dtype.size }
}
