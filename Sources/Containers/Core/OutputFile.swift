import CheckpointStore
import Glibc

/// A new file being written sequentially, through a small buffer; closed when released.
///
/// All writes go through `write(_:)`, which loops over short writes and `EINTR`; the position
/// is the number of bytes accepted so far. Where the filesystem takes `O_DIRECT` (and
/// `DirectIO.enabled`), bytes are gathered in a page-aligned staging buffer and written with
/// `O_DIRECT` a whole buffer at a time, past the page cache; the last partial block goes through
/// the page cache at `flush` (from `sync` or `close`). Otherwise small writes are gathered in the
/// buffer and a write of `directBytes` or more goes to the kernel straight from the caller's
/// memory (after the buffered bytes), so tensor data is not copied once more on its way out.
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
    /// The staging buffer of direct mode (a multiple of `DirectIO.alignment`): one `O_DIRECT`
    /// write each. Small, since a DCP writer keeps one file per rank open at once.
    static let defaultStagingBytes = 2 << 20
    /// This file's staging size (tests give one the kernel refuses, to reach the fallback).
    private let stagingBytes: Int
    /// Direct mode: the `O_DIRECT` descriptor of the same file and its staging buffer; the
    /// bytes before `staged` offsets are on disk (`diskPosition`, block-aligned while direct).
    private var direct: Int32 = -1
    private var staging: UnsafeMutableRawPointer?
    private var staged = 0
    /// Bytes handed to the kernel so far (in either mode).
    private var diskPosition = 0

    /// Creates `file`, which must not exist (mode 0644, close-on-exec); messages name
    /// `reportingAs` (the final path of a temporary), or `file`; `stagingBytes` is the direct
    /// mode's buffer size. The corresponding C function is `open` with `O_CREAT | O_EXCL`.
    init(creating file: String, reportingAs shown: String? = nil, stagingBytes: Int = OutputFile.defaultStagingBytes) throws(ContainerError) {
        let path = shown ?? file
        var fd: Int32
        repeat { fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        if fd < 0 { throw .io(path: path, detail: "cannot create \(file): \(RandomAccessFile.message(errno))") }
        self.path = path
        self.descriptor = fd
        self.stagingBytes = max(1, stagingBytes)
        if DirectIO.enabled {
            var d: Int32
            repeat { d = open(file, O_WRONLY | O_CLOEXEC | 0o40000) } while d < 0 && errno == EINTR  // O_DIRECT
            if d >= 0 {
                direct = d
                staging = UnsafeMutableRawPointer.allocate(byteCount: self.stagingBytes, alignment: DirectIO.alignment)
            }
        }
        if direct < 0 { buffer.reserveCapacity(Self.bufferSize) }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
        if direct >= 0 { Glibc.close(direct) }
        staging?.deallocate()
    }

    /// Whether bytes still go through the `O_DIRECT` descriptor.
    var isDirect: Bool { direct >= 0 }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard bytes.count > 0 else { return }
        if let staging, direct >= 0, let base = bytes.baseAddress {
            guard descriptor >= 0 else { throw .io(path: path, detail: "write after close") }
            var at = 0
            while at < bytes.count {
                let n = min(bytes.count - at, stagingBytes - staged)
                (staging + staged).copyMemory(from: base + at, byteCount: n)
                staged += n
                at += n
                position += n
                if staged == stagingBytes {
                    try writeStaged()
                    // Refused: the staging buffer is gone, the rest goes the buffered way.
                    if direct < 0 { return try write(UnsafeRawBufferPointer(rebasing: bytes[at...])) }
                }
            }
            return
        }
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

    /// Hands the buffered bytes to the kernel. In direct mode the staged bytes go through the
    /// page cache (they need not fill a block) and later writes are buffered.
    func flush() throws(ContainerError) {
        if let staging, direct >= 0 {
            endDirect()
            try positioned(UnsafeRawBufferPointer(start: staging, count: staged), at: diskPosition)
            diskPosition += staged
            staged = 0
            self.staging = nil
            staging.deallocate()
            return
        }
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
        endDirect()
    }

    /// Closes the direct descriptor and frees the staging buffer unless `flush` still needs it.
    private func endDirect() {
        if direct >= 0 { Glibc.close(direct) }
        direct = -1
        if descriptor < 0, let s = staging {
            s.deallocate()
            staging = nil
        }
    }

    /// Writes the full staging buffer with `O_DIRECT` at `diskPosition`; when the filesystem
    /// refuses the transfer (`EINVAL`), writes it through the page cache and stays buffered.
    private func writeStaged() throws(ContainerError) {
        guard let staging else { return }
        var done = 0
        while done < staged {
            let n = pwrite(direct, staging + done, staged - done, off_t(diskPosition + done))
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EINVAL { break }
            if n < 0 { throw .io(path: path, detail: "write failed: \(RandomAccessFile.message(errno))") }
            if n == 0 { throw .io(path: path, detail: "write failed: no progress at offset \(diskPosition + done)") }
            done += n
        }
        if done < staged {
            // Refused mid-file: the rest through the page cache, and every later write too.
            diskPosition += done
            staged -= done
            if done > 0 { staging.copyMemory(from: staging + done, byteCount: staged) }
            try flush()
            return
        }
        diskPosition += staged
        staged = 0
    }

    /// `pwrite` of every byte at `offset` through the buffered descriptor (retried on `EINTR`
    /// and short writes).
    private func positioned(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(ContainerError) {
        guard descriptor >= 0 else { throw .io(path: path, detail: "write after close") }
        guard let p = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, p + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, detail: "write failed: \(RandomAccessFile.message(errno))")
            }
            if n == 0 { throw .io(path: path, detail: "write failed: no progress at offset \(offset + done)") }
            done += n
        }
    }

    /// Hands `bytes` to the kernel after the bytes already handed (`diskPosition`).
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        try positioned(bytes, at: diskPosition)
        diskPosition += bytes.count
    }
}
