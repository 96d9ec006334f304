import CheckpointStore

/// One tensor as a validated safetensors header describes it.
public struct SafetensorsEntry: Sendable, Hashable {
    /// The tensor's name in the file.
    public var name: String
    /// Its element type as the file names it.
    public var dtype: SafetensorsDType
    /// Its shape (empty for a scalar).
    public var shape: [Int]
    /// First byte, relative to the start of the data buffer (after the header).
    public var begin: Int
    /// One past the last byte, relative to the start of the data buffer.
    public var end: Int

    /// Creates an entry.
    public init(name: String, dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end
    }

    /// Bytes the tensor occupies.
    public var byteCount: Int { end - begin }

    /// The tensor as a container lists it, or nil when ckpt does not read its dtype.
    public var containerTensor: ContainerTensor? {
        dtype.ckptType.map { ContainerTensor(key: .model(name), dtype: $0, shape: shape) }
    }
}
