import CheckpointStore
import Glibc

/// A file being written through a 1 MiB buffer, with short writes and `EINTR` handled in one
/// place. Large appends bypass the buffer.
final class BufferedFileOutput {
    /// The path named in messages (the final path, not the temporary).
    let path: String
    private var fd: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0
    /// Bytes written so far (buffered ones included).
    private(set) var position = 0

    /// Creates `file` exclusively (it must not exist), mode 0644 before the umask. The
    /// corresponding C function is `open` with `O_CREAT | O_EXCL`.
    init(creating file: String, reportingAs path: String, bufferBytes: Int = 1 << 20) throws(ContainerError) {
        self.path = path
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io(path: path, detail: "cannot create \(file): \(String(cString: strerror(errno)))") }
        capacity = max(1, bufferBytes)
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        buffer.deallocate()
    }

    /// Appends bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count <= capacity {
            (buffer + used).copyMemory(from: src, byteCount: bytes.count)
            used += bytes.count
        } else {
            try flush()
            if bytes.count >= capacity {
                try writeAll(bytes)
            } else {
                buffer.copyMemory(from: src, byteCount: bytes.count)
                used = bytes.count
            }
        }
        position += bytes.count
    }

    /// Appends bytes held in an array.
    func write(_ bytes: [UInt8]) throws(ContainerError) {
        try withTypedBytes(bytes) { (b) throws(ContainerError) in try write(b) }
    }

    /// Writes out the buffer.
    func flush() throws(ContainerError) {
        guard used > 0 else { return }
        try writeAll(UnsafeRawBufferPointer(start: buffer, count: used))
        used = 0
    }

    /// Flushes and closes the descriptor (the caller then fsyncs and renames by path). The
    /// corresponding C function is `close`.
    func close() throws(ContainerError) {
        try flush()
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 { throw .io(path: path, detail: "close failed: \(String(cString: strerror(errno)))") }
    }

    /// Closes without flushing (abandoning the file).
    func discard() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        used = 0
    }

    /// The corresponding C function is `write`, repeated after short writes and `EINTR`.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard fd >= 0 else { throw .io(path: path, detail: "write after close") }
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "write failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw .io(path: path, detail: "write failed: no progress") }
            p += n
            left -= n
        }
    }
}
