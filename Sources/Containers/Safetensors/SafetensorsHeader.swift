import CheckpointStore

/// The header of a safetensors file, validated before anything in it is trusted.
///
/// Layout: a little-endian `UInt64` N, N bytes of UTF-8 JSON, then the data buffer. `parse`
/// checks, in this order: the file holds the 8-byte length; N ≤ 100,000,000 and 8 + N ≤ the
/// file size; the header is valid UTF-8; it is one JSON object (whitespace around it allowed)
/// with no key twice at any level; every entry has a known `dtype`, a `shape` of at most 64
/// non-negative integers whose element count does not overflow, and `data_offsets`
/// `[begin, end]` with begin ≤ end and end - begin = the tensor's bytes (sub-byte types must
/// fill whole bytes); sorted by offset, the tensors tile the buffer from 0 with no gap and no
/// overlap; the buffer ends exactly at the end of the file; `__metadata__` maps strings to
/// strings. This is safetensors 0.8's validation, plus the refusal of duplicate keys (which
/// safetensors silently resolves to the last one) and the bound on rank.
public struct SafetensorsHeader: Sendable, Equatable {
    /// The largest header safetensors accepts (`MAX_HEADER_SIZE`).
    public static let maxHeaderBytes = 100_000_000
    /// The largest rank ckpt accepts.
    public static let maxRank = 64
    /// JSON bounds for headers.
    public static let jsonLimits = JSONLimits(maxDepth: 64, maxNumberLength: 64)

    /// N, the header's byte length.
    public var headerLength: Int
    /// The tensors in data order (by offset).
    public var entries: [SafetensorsEntry]
    /// `__metadata__` (empty when absent).
    public var metadata: [String: String]

    /// Creates a header from parts already validated.
    public init(headerLength: Int, entries: [SafetensorsEntry], metadata: [String: String]) {
        self.headerLength = headerLength
        self.entries = entries
        self.metadata = metadata
    }

    /// The file offset at which the data buffer starts (8 + N).
    public var dataStart: Int { 8 + headerLength }

    /// Validates the whole file `file` (header and sizes; tensor bytes are not read) and returns
    /// its header. Errors name `path` and, where one is at fault, the tensor.
    public static func parse(file: UnsafeRawBufferPointer, path: String) throws(ContainerError) -> SafetensorsHeader {
        let size = file.count
        guard size >= 8 else {
            throw .malformed(path: path, detail: "\(size) bytes, shorter than the 8-byte header length a safetensors file starts with")
        }
        let n = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(maxHeaderBytes) else {
            throw .malformed(path: path, detail: "header length \(n) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        let headerLength = Int(n)
        guard 8 + headerLength <= size else {
            throw .malformed(path: path, detail: "header length \(n) runs past the end of the \(size)-byte file")
        }
        let text = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        if let bad = UTF8Check.firstInvalid(text) {
            throw .malformed(path: path, detail: "header is not valid UTF-8 (byte \(8 + bad) of the file)")
        }
        var parser = SafetensorsHeaderParser(text: text, path: path)
        let (unordered, metadata) = try parser.parse()
        let entries = try tile(unordered, dataStart: 8 + headerLength, fileSize: size, path: path)
        return SafetensorsHeader(headerLength: headerLength, entries: entries, metadata: metadata)
    }

    /// Sorts entries by offset and checks that they tile the buffer exactly up to the end of
    /// the file.
    private static func tile(_ entries: [SafetensorsEntry], dataStart: Int, fileSize: Int, path: String) throws(ContainerError) -> [SafetensorsEntry] {
        let sorted = entries.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let buffer = fileSize - dataStart
        var expected = 0
        var previous: String? = nil
        for e in sorted {
            let name = PrintableName.of(e.name)
            let offsets = "data_offsets [\(e.begin), \(e.end)]"
            if e.begin < expected {
                throw .badTensor(
                    path: path, tensor: name,
                    detail: "\(offsets) overlap tensor \(PrintableName.of(previous ?? "")), which ends at \(expected)")
            }
            if e.begin > expected {
                let after = previous.map { "after tensor \(PrintableName.of($0))" } ?? "at the start of the data"
                throw .badTensor(path: path, tensor: name, detail: "\(offsets) leave a gap of \(e.begin - expected) bytes \(after)")
            }
            if e.end > buffer {
                throw .badTensor(
                    path: path, tensor: name,
                    detail: "\(offsets) run past the end of the file (\(buffer) data bytes after the \(dataStart - 8)-byte header)")
            }
            expected = e.end
            previous = e.name
        }
        if expected < buffer {
            throw .malformed(
                path: path, detail: "\(buffer - expected) trailing bytes after the last tensor (data ends at byte \(dataStart + expected) of \(fileSize))")
        }
        return sorted
    }
}
