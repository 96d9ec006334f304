import CheckpointStore
import Glibc

/// Reads small files whole (JSON documents beside the tensors), refusing ones larger than a
/// bound before allocating anything.
public enum SmallFile {
    /// The bytes of `path`, which must be a regular file of at most `maxBytes` bytes. The
    /// corresponding C functions are `open`, `fstat` and `read`.
    public static func read(_ path: String, maxBytes: Int) throws(ContainerError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw .io(path: path, detail: "no such file") }
            throw .io(path: path, detail: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw .io(path: path, detail: "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, detail: "not a regular file") }
        guard st.st_size <= maxBytes else {
            throw .malformed(path: path, detail: "\(st.st_size) bytes, more than the \(maxBytes) a file of this kind may have")
        }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var got = 0
        let failure: Int32? = out.withUnsafeMutableBytes { b in
            guard let base = b.baseAddress else { return nil }
            while got < b.count {
                let n = Glibc.read(fd, base + got, b.count - got)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { break }
                got += n
            }
            return nil
        }
        if let failure { throw .io(path: path, detail: "read failed: \(String(cString: strerror(failure)))") }
        // A file that shrank meanwhile: keep what is there.
        if got < out.count { out.removeLast(out.count - got) }
        return out
    }

    /// Whether `path` exists (as anything).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }
}
