/// One dataset of an HDF5 file ckpt did not write, as `HDF5DatasetFile` describes it.
public struct HDF5DatasetInfo: Sendable, Hashable {
    /// Its path below the root (`a`, or `group/b`).
    public var name: String
    /// The element type of the stored data, or nil when it is not one of ckpt's dtypes (strings,
    /// compounds, big-endian data).
    public var dtype: DType?
    /// The shape (empty for a scalar or an empty dataspace).
    public var shape: [Int]
    /// Whether the dataspace is HDF5's null dataspace (no elements at all, as `h5py.Empty`).
    public var isNull: Bool
    /// The chunk shape of a chunked dataset.
    public var chunkShape: [Int]?
    /// The filter pipeline, e.g. `lz4`, `shuffle+zstd:1+fletcher32`, `none`.
    public var codec: String
    /// Bytes the data takes in the file.
    public var storedBytes: Int
}
