import CheckpointStore
import Foundation

/// A directory built under a temporary name beside its target and renamed into place only when
/// complete, so a failed conversion leaves no partial output.
final class OutputDirectory {
    /// The final path.
    let path: String
    /// The temporary directory being filled.
    let temporaryPath: String
    private var published = false

    /// Creates the temporary directory; refuses when `path` exists.
    init(path: String) throws(ShardingError) {
        self.path = path
        if FileManager.default.fileExists(atPath: path) { throw .outputExists(path: path) }
        temporaryPath = AtomicFile.temporaryPath(for: path)
        do {
            try FileManager.default.createDirectory(atPath: temporaryPath, withIntermediateDirectories: false)
        } catch {
            throw .io(path: path, detail: "cannot create \(temporaryPath): \(PlainErrorMessage.describe(error))")
        }
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
            if FileManager.default.fileExists(atPath: path) { throw ShardingError.outputExists(path: path) }
            if rename(temporaryPath, path) != 0 { throw StoreError.io(path: path, operation: "rename", errno: errno) }
            published = true
            try AtomicFile.fsyncPath(AtomicFile.directory(of: path), directory: true)
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
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }
}
