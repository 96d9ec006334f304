import CheckpointStore
import Foundation

/// A Megatron output directory built under a temporary name beside its target and renamed into
/// place only when complete (`AtomicDirectory`, which holds the publishing rules), with the
/// helpers the converter uses to fill it.
final class OutputDirectory {
    private let directory: AtomicDirectory

    /// The final path.
    var path: String { directory.path }
    /// The temporary directory being filled.
    var temporaryPath: String { directory.temporaryPath }
    /// Whether an existing directory at `path` is replaced.
    var replace: Bool { directory.replace }

    /// Creates the temporary directory (deleting stale ones a killed conversion left beside
    /// `path`); refuses when `path` exists unless `replace`.
    init(path: String, replace: Bool = false) throws(ShardingError) {
        do {
            directory = try AtomicDirectory(path: path, replace: replace)
        } catch {
            if case .outputExists(let p) = error { throw .outputExists(path: p) }
            throw .store(error)
        }
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
            try directory.publish(syncing: directories)
        } catch {
            if case .outputExists(let p) = error { throw .outputExists(path: p) }
            throw .store(error)
        }
    }

    /// Removes the temporary directory and everything in it.
    func discard() { directory.discard() }
}
