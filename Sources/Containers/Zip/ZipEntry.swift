/// One file of a zip archive, as its central directory records it (sizes and offsets already
/// resolved through the Zip64 extra field, the data offset through the local header).
public struct ZipEntry: Sendable, Hashable {
    /// The name (UTF-8), e.g. `archive/data/0`.
    public var name: String
    /// The compression method: 0 is STORED, the only one ckpt reads.
    public var method: UInt16
    /// The general-purpose flags (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8).
    public var flags: UInt16
    /// The CRC-32 of the uncompressed data.
    public var crc32: UInt32
    /// Bytes the data occupies in the archive.
    public var compressedSize: Int
    /// Bytes of the data once uncompressed (equal to `compressedSize` for STORED entries).
    public var size: Int
    /// Offset of the local header, relative to the start of the archive.
    public var localHeaderOffset: Int
    /// Offset of the first data byte, relative to the start of the archive.
    public var dataOffset: Int

    /// Creates an entry record.
    public init(name: String, method: UInt16, flags: UInt16, crc32: UInt32, compressedSize: Int, size: Int, localHeaderOffset: Int, dataOffset: Int) {
        self.name = name
        self.method = method
        self.flags = flags
        self.crc32 = crc32
        self.compressedSize = compressedSize
        self.size = size
        self.localHeaderOffset = localHeaderOffset
        self.dataOffset = dataOffset
    }

    /// Whether the data is stored as is (method 0, not encrypted): only such entries are readable.
    public var isReadable: Bool { method == 0 && flags & 0x41 == 0 }

    /// Why the entry cannot be read, or nil when it can.
    public var unreadableReason: String? {
        if flags & 0x41 != 0 { return "zip entry \(name) is encrypted" }
        if method != 0 {
            let known: [UInt16: String] = [8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz"]
            return "zip entry \(name) is compressed (method \(method)\(known[method].map { ": " + $0 } ?? "")); torch.save writes every entry STORED"
        }
        return nil
    }
}
