import CheckpointStore
import Glibc

/// A regular file opened read-only for positioned reads, closed when the owner is released.
///
/// Every read is a `pread` at an explicit offset, so one instance serves any number of threads
/// at once. Offsets and counts are checked against the size the file had when it was opened.
/// Large reads of ranges not in the page cache go through a `DirectReader` (`O_DIRECT`).
public final class RandomAccessFile: Sendable {
    /// The path, for messages.
    public let path: String
    /// The size in bytes when the file was opened.
    public let size: Int
    /// The descriptor (immutable; only `pread` and `close` use it).
    private let descriptor: Int32
    /// Large uncached reads, when the filesystem takes `O_DIRECT`.
    private let direct: DirectReader?

    /// Opens `path` read-only (close-on-exec); it must be a regular file. The corresponding C
    /// functions are `open` and `fstat`.
    public init(path: String) throws(ContainerError) {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 { throw .io(path: path, detail: "cannot open: \(Self.message(errno))") }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw .io(path: path, detail: "cannot stat: \(Self.message(e))")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw .io(path: path, detail: "not a regular file")
        }
        self.path = path
        self.size = Int(st.st_size)
        self.descriptor = fd
        self.direct = DirectReader(path: path)
    }

    deinit { close(descriptor) }

    /// Fills `buffer` with the bytes at `offset`. Fails (never traps) when the range lies past
    /// the size recorded at open or the file turns out shorter. The corresponding C function is
    /// `pread` (retried on `EINTR` and short reads), with `O_DIRECT` for large uncached ranges.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard buffer.count > 0 else { return }
        let (end, overflow) = offset.addingReportingOverflow(buffer.count)
        guard offset >= 0, !overflow, end <= size, let base = buffer.baseAddress else {
            throw .malformed(path: path, detail: "read of \(buffer.count) bytes at offset \(offset) past the end of the \(size)-byte file")
        }
        switch direct?.read(at: offset, count: buffer.count, into: base, buffered: descriptor) ?? .declined {
        case .done: return
        case .declined: break
        case .shortFile: throw .io(path: path, detail: "file ended before offset \(end), inside its recorded size \(size) (it shrank?)")
        case .failed(let e): throw .io(path: path, detail: "read at offset \(offset) failed: \(Self.message(e))")
        }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "read at offset \(offset + done) failed: \(Self.message(errno))")
            }
            if n == 0 { throw .io(path: path, detail: "file ended at offset \(offset + done), before its recorded size \(size) (it shrank?)") }
            done += n
        }
    }

    /// The `count` bytes at `offset`. The range is checked against the file size before
    /// anything is allocated.
    public func bytes(at offset: Int, count: Int) throws(ContainerError) -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !overflow, end <= size else {
            throw .malformed(path: path, detail: "read of \(count) bytes at offset \(offset) past the end of the \(size)-byte file")
        }
        var out = [UInt8](repeating: 0, count: count)
        var failure: ContainerError?
        out.withUnsafeMutableBytes { b in
            do throws(ContainerError) { try read(at: offset, into: b) } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }

    /// `strerror` of an errno value.
    static func message(_ e: Int32) -> String { String(cString: strerror(e)) }
}
