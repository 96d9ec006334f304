/// DCP's `_StorageInfo`: where one item's bytes are, the `length` bytes at `offset` of the data
/// file `relativePath`, and the stream transforms applied to them when written (torch >= 2.8
/// `transform_descriptors`, outermost last, e.g. `["stream.zstd/1"]`; empty when absent).
public struct DCPStorageInfo: Sendable, Hashable {
    /// The data file, relative to the checkpoint directory (`__0_0.distcp`).
    public var relativePath: String
    /// First byte of the item in the file.
    public var offset: Int
    /// Bytes of the item in the file (after the transforms).
    public var length: Int
    /// The transform descriptors, as recorded.
    public var transforms: [String]

    /// Creates a record.
    public init(relativePath: String, offset: Int, length: Int, transforms: [String] = []) {
        self.relativePath = relativePath
        self.offset = offset
        self.length = length
        self.transforms = transforms
    }

    /// The bytes of the file the item occupies.
    public var range: Range<Int> { offset..<(offset + length) }
}
