import CheckpointStore
import Foundation

/// A directory built under a temporary name beside its target and renamed into place only when
/// complete, so a failed conversion leaves no partial output.
///
/// Without `replace` an existing target is refused, at the start and again at the rename
/// (`renameat2(RENAME_NOREPLACE)`, so of two conversions racing to one path one wins and the
/// other fails). With `replace` the new tree is swapped in atomically (`RENAME_EXCHANGE`) and
/// the old one is deleted only afterwards: the path shows the old tree or the new, never neither.
final class OutputDirectory {
    /// The final path.
    let path: String
    /// The temporary directory being filled.
    let temporaryPath: String
    /// Whether an existing directory at `path` is replaced.
    let replace: Bool
    private var published = false

    /// Creates the temporary directory (deleting stale ones a killed conversion left beside
    /// `path`); refuses when `path` exists unless `replace`.
    init(path: String, replace: Bool = false) throws(ShardingError) {
        self.path = path
        self.replace = replace
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !replace || !isDir.boolValue {
            throw .outputExists(path: path)
        }
        temporaryPath = AtomicFile.temporaryPath(for: path)
        StaleTemporaries.removeStale(beside: path)
        do {
            try FileManager.default.createDirectory(atPath: temporaryPath, withIntermediateDirectories: false)
        } catch {
            throw .io(path: path, detail: "cannot create \(temporaryPath): \(PlainErrorMessage.describe(error))")
        }
        TemporaryRegistry.register(temporaryPath)
    }

    deinit {
        if !published { discard() }
    }

    /// Creates a subdirectory (relative path) inside the temporary directory.
    func makeDirectory(_ relative: String) throws(ShardingError) {
        do {
            try FileManager.default.createDirectory(atPath: temporaryPath + "/" + relative, withIntermediateDirectories: true)
        } catch {
            throw .io(path: temporaryPath + "/" + relative, detail: "cannot create directory: \(PlainErrorMessage.describe(error))")
        }
    }

    /// Writes a small text file durably inside the temporary directory.
    func writeText(_ relative: String, _ text: String) throws(ShardingError) {
        let p = temporaryPath + "/" + relative
        guard FileManager.default.createFile(atPath: p, contents: Data(text.utf8)) else {
            throw .io(path: p, detail: "cannot write file")
        }
        do { try AtomicFile.fsyncPath(p, directory: false) } catch { throw .store(error) }
    }

    /// fsyncs the given subdirectories and the temporary root, renames it to `path` and fsyncs
    /// the parent directory.
    func publish(syncing directories: [String]) throws(ShardingError) {
        do {
            for d in directories { try AtomicFile.fsyncPath(temporaryPath + "/" + d, directory: true) }
            try AtomicFile.fsyncPath(temporaryPath, directory: true)
            var swapped = false
            if replace && FileManager.default.fileExists(atPath: path) {
                // The old tree lands at the temporary name (still registered, so a signal
                // deletes it too) and is deleted once the new one is durable under `path`.
                let aside = AtomicFile.temporaryPath(for: path)
                TemporaryRegistry.register(aside)
                defer { TemporaryRegistry.unregister(aside) }
                if FileRename.exchange(temporaryPath, path, aside: aside) != 0 {
                    throw StoreError.io(path: path, operation: "rename", errno: errno)
                }
                swapped = true
            } else if FileRename.renameNoReplace(temporaryPath, path) != 0 {
                if errno == EEXIST || errno == ENOTEMPTY { throw ShardingError.outputExists(path: path) }
                throw StoreError.io(path: path, operation: "rename", errno: errno)
            }
            published = true
            try AtomicFile.fsyncPath(AtomicFile.directory(of: path), directory: true)
            if swapped { TemporaryRegistry.remove(temporaryPath) }
            TemporaryRegistry.unregister(temporaryPath)
        } catch let e as ShardingError {
            throw e
        } catch let e as StoreError {
            throw .store(e)
        } catch {
            throw .io(path: path, detail: PlainErrorMessage.describe(error))
        }
    }

    /// Removes the temporary directory and everything in it.
    func discard() {
        TemporaryRegistry.remove(temporaryPath)
        TemporaryRegistry.unregister(temporaryPath)
    }
}
