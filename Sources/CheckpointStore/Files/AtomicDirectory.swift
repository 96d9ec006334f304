import Foundation
import Glibc

/// A directory built under a temporary name beside its target and renamed into place only when
/// complete, so a failed write leaves no partial output.
///
/// Without `replace` an existing target is refused, at the start and again at the rename
/// (`renameat2(RENAME_NOREPLACE)`, so of two writers racing to one path one wins and the other
/// fails). With `replace` the new tree is swapped in atomically (`RENAME_EXCHANGE`) and the old
/// one is deleted only afterwards: the path shows the old tree or the new, never neither. The
/// temporary is registered with `TemporaryRegistry` (a signal deletes it) and deleted by
/// `discard` or when the owner is released unpublished.
public final class AtomicDirectory {
    /// The final path.
    public let path: String
    /// The temporary directory being filled.
    public let temporaryPath: String
    /// Whether an existing directory at `path` is replaced.
    public let replace: Bool
    /// Whether `publish` succeeded.
    public private(set) var isPublished = false

    /// Creates the temporary directory (deleting stale ones a killed writer left beside
    /// `path`); refuses when `path` exists, unless `replace` and it is a directory. The
    /// corresponding C function is `mkdir`.
    public init(path: String, replace: Bool = false) throws(StoreError) {
        self.path = path
        self.replace = replace
        var st = stat()
        if stat(path, &st) == 0, !replace || (st.st_mode & S_IFMT) != S_IFDIR {
            throw .outputExists(path: path)
        }
        temporaryPath = AtomicFile.temporaryPath(for: path)
        StaleTemporaries.removeStale(beside: path)
        TemporaryRegistry.register(temporaryPath)  // before it exists: a signal as it appears must find it
        if mkdir(temporaryPath, 0o755) != 0 {
            let e = errno
            TemporaryRegistry.unregister(temporaryPath)
            throw .io(path: path, operation: "creating \(temporaryPath)", errno: e)
        }
    }

    deinit {
        if !isPublished { discard() }
    }

    /// fsyncs the given subdirectories (relative paths) and the temporary root, renames it to
    /// `path` and fsyncs the parent directory. A target that appeared meanwhile is
    /// `StoreError.outputExists` (unless `replace`).
    public func publish(syncing directories: [String] = []) throws(StoreError) {
        for d in directories { try AtomicFile.fsyncPath(temporaryPath + "/" + d, directory: true) }
        try AtomicFile.fsyncPath(temporaryPath, directory: true)
        var swapped = false
        if replace && FileManager.default.fileExists(atPath: path) {
            // The old tree lands at the temporary name (still registered, so a signal deletes
            // it too) and is deleted once the new one is durable under `path`.
            let aside = AtomicFile.temporaryPath(for: path)
            TemporaryRegistry.register(aside)
            defer { TemporaryRegistry.unregister(aside) }
            if FileRename.exchange(temporaryPath, path, aside: aside) != 0 { throw .io(path: path, operation: "rename", errno: errno) }
            swapped = true
        } else if FileRename.renameNoReplace(temporaryPath, path) != 0 {
            if errno == EEXIST || errno == ENOTEMPTY { throw .outputExists(path: path) }
            throw .io(path: path, operation: "rename", errno: errno)
        }
        isPublished = true
        // The old tree is deleted only once the new one is durable under `path`.
        try AtomicFile.fsyncPath(AtomicFile.directory(of: path), directory: true)
        if swapped { TemporaryRegistry.remove(temporaryPath) }
        TemporaryRegistry.unregister(temporaryPath)
    }

    /// Removes the temporary directory and everything in it (nothing once published).
    public func discard() {
        guard !isPublished else { return }
        TemporaryRegistry.remove(temporaryPath)
        TemporaryRegistry.unregister(temporaryPath)
    }
}
