import Glibc

/// A new file being written sequentially, through a small buffer; closed when released.
///
/// All writes go through `write(_:)`, which loops over short writes and `EINTR`; the position
/// is the number of bytes accepted so far. Small writes are gathered in the buffer; a write of
/// `directBytes` or more goes to the kernel straight from the caller's memory (after the
/// buffered bytes), so tensor data is not copied once more on its way out.
final class OutputFile {
    /// The path, for messages.
    let path: String
    /// Bytes written so far (buffered ones included).
    private(set) var position = 0
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private static let bufferSize = 1 << 20
    /// Writes at least this long bypass the buffer.
    static let directBytes = 64 << 10

    /// Creates `file`, which must not exist (mode 0644, close-on-exec); messages name
    /// `reportingAs` (the final path of a temporary), or `file`. The corresponding C function is
    /// `open` with `O_CREAT | O_EXCL`.
    init(creating file: String, reportingAs shown: String? = nil) throws(ContainerError) {
        let path = shown ?? file
        var fd: Int32
        repeat { fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        if fd < 0 { throw .io(path: path, detail: "cannot create \(file): \(RandomAccessFile.message(errno))") }
        self.path = path
        self.descriptor = fd
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard bytes.count > 0 else { return }
        position += bytes.count
        let small = bytes.count < Self.directBytes
        if small && buffer.count + bytes.count <= Self.bufferSize {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if small {
            buffer.append(contentsOf: bytes)
        } else {
            try writeAll(bytes)
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: [UInt8]) throws(ContainerError) {
        var failure: ContainerError?
        bytes.withUnsafeBytes { b in
            do throws(ContainerError) { try write(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Hands the buffered bytes to the kernel.
    func flush() throws(ContainerError) {
        guard !buffer.isEmpty else { return }
        var failure: ContainerError?
        buffer.withUnsafeBytes { b in
            do throws(ContainerError) { try writeAll(b) } catch { failure = error }
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }

    /// Flushes and fsyncs. The corresponding C function is `fsync`.
    func sync() throws(ContainerError) {
        try flush()
        if fsync(descriptor) != 0 { throw .io(path: path, detail: "fsync failed: \(RandomAccessFile.message(errno))") }
    }

    /// Flushes and closes; later writes fail.
    func close() throws(ContainerError) {
        try flush()
        let fd = descriptor
        descriptor = -1
        if Glibc.close(fd) != 0 { throw .io(path: path, detail: "close failed: \(RandomAccessFile.message(errno))") }
    }

    /// Closes without flushing (abandoning the file).
    func discard() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
        buffer.removeAll(keepingCapacity: false)
    }

    /// The corresponding C function is `write` (retried on `EINTR` and short writes).
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard descriptor >= 0 else { throw .io(path: path, detail: "write after close") }
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(descriptor, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "write failed: \(RandomAccessFile.message(errno))")
            }
            p += n
            left -= n
        }
    }
}
