import Glibc

/// `renameat2(2)` (Linux 3.15+, glibc 2.28+) with its two flags, looked up at run time because
/// Swift's Glibc module does not import it, and a portable fallback where it is missing or the
/// file system does not support the flag.
public enum FileRename {
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameNoReplaceFlag: UInt32 = 1  // RENAME_NOREPLACE
    private static let renameExchangeFlag: UInt32 = 2  // RENAME_EXCHANGE

    private static let renameat2: RenameAt2? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(sym, to: RenameAt2.self)
    }()

    /// Renames `from` to `to` only if `to` does not exist; fails with `EEXIST` otherwise, even
    /// when another process creates `to` at the same moment. Returns 0 or -1 with `errno` set.
    public static func renameNoReplace(_ from: String, _ to: String) -> Int32 {
        if let f = renameat2 {
            let rc = f(AT_FDCWD, from, AT_FDCWD, to, renameNoReplaceFlag)
            if rc == 0 || (errno != EINVAL && errno != ENOSYS) { return rc }
        }
        var st = stat()
        guard lstat(from, &st) == 0 else { return -1 }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            // link() never replaces: the same guarantee for a file.
            if link(from, to) == 0 {
                unlink(from)
                return 0
            }
            if errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOSYS { return -1 }
        }
        // A file system with neither: check, then rename. For a directory rename() refuses a
        // non-empty target (ENOTEMPTY); only something created in the moment between this
        // check and the rename (an empty directory, or a file) could be replaced.
        if access(to, F_OK) == 0 {
            errno = EEXIST
            return -1
        }
        return rename(from, to)
    }

    /// Swaps `a` and `b` atomically (both must exist): each name shows one complete tree at
    /// every moment. Without `RENAME_EXCHANGE`, `b` moves aside to `aside` first, so for an
    /// instant neither name exists but both trees do. Returns 0 or -1 with `errno` set.
    public static func exchange(_ a: String, _ b: String, aside: String) -> Int32 {
        if let f = renameat2 {
            let rc = f(AT_FDCWD, a, AT_FDCWD, b, renameExchangeFlag)
            if rc == 0 || (errno != EINVAL && errno != ENOSYS) { return rc }
        }
        if rename(b, aside) != 0 { return -1 }
        if rename(a, b) != 0 {
            let e = errno
            rename(aside, b)
            errno = e
            return -1
        }
        return rename(aside, a)
    }
}
