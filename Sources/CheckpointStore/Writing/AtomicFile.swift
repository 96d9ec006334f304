import Glibc

/// Publishing a finished temporary file under its final name, durably: fsync the file,
/// rename it over the target, fsync the directory. A crash at any point leaves either the old
/// target or the new one, never a mix.
public enum AtomicFile {
    /// A fresh temporary path beside `path` (`<path>.tmp-<pid>-<start>-<random>`, see
    /// `TemporaryName`).
    public static func temporaryPath(for path: String) -> String {
        TemporaryName.fresh(for: path)
    }

    /// The directory that holds `path`.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// fsyncs `temp`, renames it to `path` and fsyncs the directory. With `replace` false an
    /// existing `path` is never replaced, even one another process publishes at the same moment
    /// (`StoreError.outputExists`). The corresponding C functions are `fsync` and `rename`
    /// (`renameat2` with `RENAME_NOREPLACE`).
    public static func publish(_ temp: String, as path: String, replace: Bool = true) throws(StoreError) {
        try fsyncPath(temp, directory: false)
        if replace {
            if rename(temp, path) != 0 { throw .io(path: path, operation: "rename", errno: errno) }
        } else if FileRename.renameNoReplace(temp, path) != 0 {
            if errno == EEXIST { throw .outputExists(path: path) }
            throw .io(path: path, operation: "rename", errno: errno)
        }
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
