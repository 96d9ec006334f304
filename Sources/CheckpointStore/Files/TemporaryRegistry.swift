import Foundation
import Glibc

/// Every temporary file and directory this process is building, so a signal handler can delete
/// them before the process exits (see `ckpt`'s `SignalCleanup`). Writers register a temporary
/// right after creating it and unregister it once it is published or deleted.
public enum TemporaryRegistry {
    /// The registered paths and whether cleanup has started, behind one lock.
    private final class State: @unchecked Sendable {  // every access holds `lock`
        let lock = NSLock()
        var paths = Set<String>()
        var terminating = false
    }

    private static let state = State()

    /// Records `path` (a file or directory) as a live temporary. During cleanup the path is
    /// deleted at once instead, so nothing created while the process exits survives it.
    public static func register(_ path: String) {
        state.lock.lock()
        let late = state.terminating
        if !late { state.paths.insert(path) }
        state.lock.unlock()
        if late { remove(path) }
    }

    /// Forgets `path` (published under its final name, or already deleted).
    public static func unregister(_ path: String) {
        state.lock.lock()
        state.paths.remove(path)
        state.lock.unlock()
    }

    /// The paths registered now.
    public static var registered: [String] {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.paths.sorted()
    }

    /// Deletes every registered temporary and stops accepting new ones (each is deleted on
    /// registration from now on). Returns the paths deleted. Called once, as the process exits.
    @discardableResult
    public static func removeAll() -> [String] {
        state.lock.lock()
        state.terminating = true
        let paths = state.paths.sorted()
        state.paths.removeAll()
        state.lock.unlock()
        for p in paths { remove(p) }
        return paths
    }

    /// Deletes a file, or a directory with everything in it. Writer threads may still be adding
    /// files to a directory being deleted, so the removal is retried a few times.
    public static func remove(_ path: String) {
        for _ in 0..<5 {
            var st = stat()
            if lstat(path, &st) != 0 { return }
            if (st.st_mode & S_IFMT) != S_IFDIR {
                if unlink(path) == 0 || errno == ENOENT { return }
            } else {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}
