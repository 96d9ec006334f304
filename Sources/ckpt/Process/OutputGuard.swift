import CheckpointStore
import Foundation
import Glibc

/// The check every writing command makes before any work: the output must not exist unless
/// `--force` is given, and may never be one of the command's inputs, lie inside an input
/// directory, or be a directory holding an input (refused even with `--force`). Paths are
/// compared resolved (symbolic links, `..`) and by device and inode (hard links).
///
/// With `--force` the writers still replace atomically: the old output stays intact until the
/// new one is complete (a file by `rename`, a directory by an atomic exchange, the old tree
/// deleted afterwards).
struct OutputGuard {
    /// What the command writes at the output path.
    enum Kind {
        /// A single file (checkpoint, `.npy`).
        case file
        /// A directory (a Megatron checkpoint).
        case directory
    }

    /// Refuses `out` with a usage error (exit 2) naming the problem.
    static func check(_ out: String, kind: Kind, inputs: [String], force: Bool) throws(CLIError) {
        let target = resolved(out)
        var outStat = stat()
        let exists = lstat(out, &outStat) == 0
        for input in inputs {
            var inStat = stat()
            guard stat(input, &inStat) == 0 else { continue }
            let source = resolved(input)
            let sameInode = exists && stat(out, &outStat) == 0 && outStat.st_dev == inStat.st_dev && outStat.st_ino == inStat.st_ino
            if source == target || sameInode {
                throw .usage("\(out): is an input of this command (\(input)); choose another output (--force does not apply)")
            }
            if source.hasPrefix(target + "/") {
                throw .usage("\(out): holds the input \(input); replacing it would delete the input (--force does not apply)")
            }
            if (inStat.st_mode & S_IFMT) == S_IFDIR && target.hasPrefix(source + "/") {
                throw .usage("\(out): lies inside the input directory \(input); choose an output outside it (--force does not apply)")
            }
        }
        guard exists else { return }
        var st = stat()
        let isDir = stat(out, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        guard force else {
            throw .usage("\(out): already exists; pass --force to replace it")
        }
        switch (kind, isDir) {
        case (.file, true): throw .usage("\(out): is a directory; --force replaces only a file here")
        case (.directory, false): throw .usage("\(out): is not a directory; --force replaces only a directory here")
        default: return
        }
    }

    /// Refuses (exit 2) a checkpoint of `rawBytes` in `tensors` tensors that the file system of
    /// `out` cannot hold (see `FreeSpace.estimate`).
    static func checkSpace(_ out: String, rawBytes: Int64, tensors: Int, chunkBytes: Int) throws(StoreError) {
        try FreeSpace.check(needed: FreeSpace.estimate(rawBytes: rawBytes, tensors: tensors, chunkBytes: chunkBytes), for: out)
    }

    /// `path` made absolute with symbolic links and `.`/`..` resolved; for a path that does not
    /// exist yet, its nearest existing ancestor is resolved and the rest appended.
    static func resolved(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var head = absolute
        var tail: [String] = []
        while true {
            if let r = realpath(head, nil) {
                defer { free(r) }
                var s = String(cString: r)
                for t in tail.reversed() where t != "." && !t.isEmpty {
                    if t == ".." { s = AtomicFile.directory(of: s) } else { s += (s.hasSuffix("/") ? "" : "/") + t }
                }
                return s
            }
            guard let slash = head.lastIndex(of: "/"), head != "/" else { return absolute }
            tail.append(String(head[head.index(after: slash)...]))
            head = slash == head.startIndex ? "/" : String(head[..<slash])
        }
    }
}
