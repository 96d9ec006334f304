import Glibc

/// Publishing a finished temporary file under its final name, durably: fsync the file,
/// rename it over the target, fsync the directory. A crash at any point leaves either the old
/// target or the new one, never a mix.
public enum AtomicFile {
    /// A fresh temporary path beside `path` (`<path>.tmp-<pid>-<random>`).
    public static func temporaryPath(for path: String) -> String {
        "\(path).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// The directory that holds `path`.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// fsyncs `temp`, renames it to `path` and fsyncs the directory. The corresponding C
    /// functions are `fsync` and `rename`.
    public static func publish(_ temp: String, as path: String) throws(StoreError) {
        try fsyncPath(temp, directory: false)
        if rename(temp, path) != 0 { throw .io(path: path, operation: "rename", errno: errno) }
        try fsyncPath(directory(of: path), directory: true)
    }

    /// fsyncs a file or directory by path.
    public static func fsyncPath(_ p: String, directory: Bool) throws(StoreError) {
        let fd = open(p, directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY)
        if fd < 0 { throw .io(path: p, operation: "open for fsync", errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .io(path: p, operation: "fsync", errno: errno) }
    }
}
