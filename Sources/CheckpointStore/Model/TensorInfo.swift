/// What the reader knows about one stored tensor without reading its data.
public struct TensorInfo: Sendable, Hashable {
    /// Section and name.
    public var key: TensorKey
    /// Element type.
    public var dtype: DType
    /// Shape ([] for a scalar).
    public var shape: [Int]
    /// Chunk shape, nil for contiguous storage.
    public var chunkShape: [Int]?
    /// Bytes on disk (compressed chunks with their checksums).
    public var storedBytes: Int
    /// The `codec` attribute (`zstd:1`, `none`), or a description of a foreign filter pipeline.
    public var codec: String
    /// The stored whole-tensor XXH3-64, when present.
    public var xxh3: UInt64?
    /// Whether the dataset carries a `dtype` attribute (h5py-written files may not; the dtype
    /// then comes from the HDF5 type alone and is not cross-checked).
    public var hasDTypeAttribute = true

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Logical bytes (elements x element size).
    public var rawBytes: Int { elementCount * dtype.size }
    /// storedBytes / rawBytes (1 for empty tensors).
    public var ratio: Double { rawBytes == 0 ? 1 : Double(storedBytes) / Double(rawBytes) }
}
