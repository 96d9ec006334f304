import Foundation

/// Bytes that arrive in pieces on another thread (a child's stderr), split into complete lines.
///
/// `@unchecked Sendable`: every access to `bytes` holds `lock`.
final class LockedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    /// Appends `chunk` and returns the lines it completed (without their newline); a partial
    /// last line stays buffered.
    func lines(appending chunk: Data) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        bytes.append(chunk)
        guard let last = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = bytes[bytes.startIndex..<last]
        bytes = Data(bytes[(last + 1)...])
        return complete.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }
}
