import Foundation
import Glibc

/// Finds and deletes temporaries (`TemporaryName`) left behind by ckpt processes that are gone
/// (killed with SIGKILL, a crash, a power cut). A temporary of a running process is never touched.
public enum StaleTemporaries {
    /// A temporary found on disk.
    public struct Entry: Sendable, Equatable {
        /// Its path.
        public var path: String
        /// Its parsed name.
        public var name: TemporaryName
        /// Whether it is a directory (a Megatron output or an assembled step input).
        public var isDirectory: Bool
        /// Bytes it holds (files inside a directory included).
        public var bytes: Int64
        /// Whether its process is gone.
        public var isStale: Bool
    }

    /// Every temporary under `directory` (recursively; symbolic links are not followed and a
    /// temporary directory is reported whole, not descended into).
    public static func find(under directory: String) -> [Entry] {
        var out: [Entry] = []
        var pending = [directory]
        while let dir = pending.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for n in names.sorted() {
                let p = dir == "/" ? "/" + n : dir + "/" + n
                var st = stat()
                guard lstat(p, &st) == 0 else { continue }
                let isDir = (st.st_mode & S_IFMT) == S_IFDIR
                if let name = TemporaryName(parsing: p) {
                    out.append(Entry(path: p, name: name, isDirectory: isDir, bytes: size(p, st), isStale: name.isStale))
                } else if isDir {
                    pending.append(p)
                }
            }
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Deletes the stale temporaries built for `target` (the entries `<target>.tmp-*` beside
    /// it); returns their paths. Every writer calls this before it starts, so the next write to
    /// a target cleans up after a killed one.
    @discardableResult
    public static func removeStale(beside target: String) -> [String] {
        let dir = AtomicFile.directory(of: target)
        let prefix = (target.split(separator: "/").last.map(String.init) ?? target) + TemporaryName.marker
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for n in names where n.hasPrefix(prefix) {
            let p = target.contains("/") ? dir + "/" + n : n
            guard let name = TemporaryName(parsing: p), name.target == target, name.isStale else { continue }
            TemporaryRegistry.remove(p)
            removed.append(p)
        }
        return removed
    }

    /// Bytes under `path` (a file's size, or the sum over a directory's files).
    private static func size(_ path: String, _ st: stat) -> Int64 {
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return Int64(st.st_size) }
        var total: Int64 = 0
        if let e = FileManager.default.enumerator(atPath: path) {
            while let rel = e.nextObject() as? String {
                var s = stat()
                if lstat(path + "/" + rel, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG { total += Int64(s.st_size) }
            }
        }
        return total
    }
}
