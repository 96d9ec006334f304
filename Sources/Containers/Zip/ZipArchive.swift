/// A zip archive read through its central directory: the entry table is parsed and checked at
/// open, entry data is read on demand with `pread` (no mapping, no whole-file load).
///
/// Only STORED entries are readable (`torch.save` writes nothing else); a compressed or
/// encrypted entry is listed but reading it fails with `.unsupported` naming the entry. Safe to
/// read from several threads at once.
public final class ZipArchive: Sendable {
    /// The file holding the archive.
    public let file: RandomAccessFile
    /// The bytes of `file` the archive occupies (the whole file, or one item of a larger file).
    public let range: Range<Int>
    /// The entries in central-directory order.
    public let entries: [ZipEntry]
    /// The part of the first entry's name before its first `/` (empty when it has none); the
    /// directory `torch.save` puts every record under.
    public let prefix: String
    private let index: [String: Int]

    /// The file's path, for messages.
    public var path: String { file.path }

    /// Opens the zip archive at `path`.
    public convenience init(path: String, limits: ZipLimits = ZipLimits()) throws(ContainerError) {
        let f = try RandomAccessFile(path: path)
        try self.init(file: f, range: 0..<f.size, limits: limits)
    }

    /// Reads the archive occupying `range` of `file` (entry offsets count from
    /// `range.lowerBound`).
    public init(file: RandomAccessFile, range: Range<Int>, limits: ZipLimits = ZipLimits()) throws(ContainerError) {
        guard range.lowerBound >= 0, range.upperBound <= file.size else {
            throw .malformed(path: file.path, detail: "zip archive at bytes \(range) lies outside the \(file.size)-byte file")
        }
        let entries = try ZipCentralDirectory.read(file: file, range: range, limits: limits)
        self.file = file
        self.range = range
        self.entries = entries
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
        if let first = entries.first, let slash = first.name.firstIndex(of: "/") {
            prefix = String(first.name[..<slash])
        } else {
            prefix = ""
        }
    }

    /// The entry named exactly `name`, or nil.
    public func entry(named name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    /// Fills `buffer` with the entry's data from byte `offset` of the entry on.
    public func read(_ entry: ZipEntry, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        if let reason = entry.unreadableReason { throw .unsupported(path: path, detail: reason) }
        let (end, overflow) = offset.addingReportingOverflow(buffer.count)
        guard offset >= 0, !overflow, end <= entry.size else {
            throw .malformed(path: path, detail: "read of bytes \(offset)..<\(end) past the end of the \(entry.size)-byte zip entry \(entry.name)")
        }
        try file.read(at: range.lowerBound + entry.dataOffset + offset, into: buffer)
    }

    /// The whole data of `entry`, refused when it is larger than `limit` bytes (before anything
    /// is allocated).
    public func contents(of entry: ZipEntry, limit: Int) throws(ContainerError) -> [UInt8] {
        if let reason = entry.unreadableReason { throw .unsupported(path: path, detail: reason) }
        guard entry.size <= limit else {
            throw .malformed(path: path, detail: "zip entry \(entry.name) holds \(entry.size) bytes, more than the limit of \(limit)")
        }
        return try file.bytes(at: range.lowerBound + entry.dataOffset, count: entry.size)
    }
}
