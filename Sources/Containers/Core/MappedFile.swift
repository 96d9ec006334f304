import CheckpointStore
import Glibc

/// A whole file mapped read-only into memory, unmapped when the owner is released.
///
/// `@unchecked Sendable`: the mapping is created once in `init`, never written (PROT_READ), and
/// unmapped only in `deinit`, when no other reference exists; reading it from several threads
/// at once is safe. If another process truncates the file while it is mapped, touching the
/// missing pages raises SIGBUS: ckpt never writes its inputs in place, and its writers publish
/// by rename, which leaves an open mapping intact.
public final class MappedFile: @unchecked Sendable {
    /// The path, for messages.
    public let path: String
    /// The mapped bytes (empty, with a nil base address, for an empty file).
    public let bytes: UnsafeRawBufferPointer
    /// The open descriptor, for `pread` of large contiguous ranges.
    private let descriptor: Int32
    /// Large uncached ranges, when the filesystem takes `O_DIRECT`.
    private let direct: DirectReader?
    /// The system's page size.
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps `path`, which must be a regular file. The corresponding C functions are `open`,
    /// `fstat`, `mmap` and `madvise`.
    public init(path: String) throws(ContainerError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .io(path: path, detail: "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw .io(path: path, detail: "cannot stat: \(String(cString: strerror(e)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .io(path: path, detail: "not a regular file")
        }
        descriptor = fd
        direct = DirectReader(path: path)
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p = mapped, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            let e = errno
            close(fd)
            throw .io(path: path, detail: "cannot map \(size) bytes: \(String(cString: strerror(e)))")
        }
        // Conversions read each tensor once, front to back: ask for aggressive read-ahead.
        madvise(p, size, MADV_SEQUENTIAL)
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let p = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: p), bytes.count) }
        close(descriptor)
    }

    /// Copies `count` bytes at `offset` (inside the file) into `out` with `pread`: for large
    /// contiguous ranges this moves the bytes once, without faulting the mapping's pages in
    /// (with `O_DIRECT` when the range is not in the page cache).
    /// Returns false when the read fails or comes up short (a file truncated under us). The
    /// corresponding C function is `pread`.
    public func read(at offset: Int, count: Int, into out: UnsafeMutableRawPointer) -> Bool {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return false }
        switch direct?.read(at: offset, count: count, into: out, buffered: descriptor) ?? .declined {
        case .done: return true
        case .declined: break
        case .shortFile, .failed: return false
        }
        var done = 0
        while done < count {
            let n = pread(descriptor, out + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Drops the pages wholly or partly inside `range` from this process's resident set
    /// (`MADV_DONTNEED`); they stay in the page cache, and a later read faults them back in
    /// with the file's bytes. Reading a file larger than memory so never grows the process's
    /// RSS by the file's size.
    public func release(_ range: Range<Int>) {
        guard let base = bytes.baseAddress, !range.isEmpty, range.lowerBound >= 0, range.upperBound <= bytes.count else { return }
        let page = Self.pageSize
        let lo = range.lowerBound / page * page
        let hi = min(bytes.count, (range.upperBound + page - 1) / page * page)
        madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED)
    }
}
