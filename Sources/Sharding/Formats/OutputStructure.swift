/// Where the files of a target go.
public enum OutputStructure: Sendable {
    /// One writer gets the output path itself: a file (ckpt wafer), or a directory that the
    /// writer builds and publishes atomically (a Hugging Face directory).
    case single(isDirectory: Bool)
    /// A directory tree the converter builds beside the output and renames into place when
    /// complete: each file at a relative path, small text files written after every file.
    case tree(OutputTree)

    /// Whether the output path is a directory.
    public var isDirectory: Bool {
        switch self {
        case .single(let d): return d
        case .tree: return true
        }
    }
}

/// The files of an `OutputStructure.tree`.
public struct OutputTree: Sendable {
    /// Each file's path relative to the root.
    public var files: [ShardFile: String]
    /// Small text files (relative path, contents) written once every file is committed (a
    /// Megatron tracker naming the iteration).
    public var textFiles: [(path: String, text: String)]

    /// Creates a tree.
    public init(files: [ShardFile: String], textFiles: [(path: String, text: String)]) {
        self.files = files
        self.textFiles = textFiles
    }

    /// Every directory holding a file, deepest first (fsynced before the tree is published).
    public var directories: [String] {
        var out = Set<String>()
        for p in files.values {
            var parts = p.split(separator: "/").dropLast()
            while !parts.isEmpty {
                out.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        return out.sorted { ($0.filter { $0 == "/" }.count, $1) > ($1.filter { $0 == "/" }.count, $0) }
    }
}
