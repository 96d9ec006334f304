import CheckpointStore

/// A sharded checkpoint's index (`model.safetensors.index.json`, and the same structure as
/// `pytorch_model.bin.index.json`): `{"metadata": {...}, "weight_map": {tensor: shard file}}`.
///
/// Validated before use: one JSON object with no key twice (so no tensor is listed twice), a
/// non-empty `weight_map` of strings, and every shard a plain file name inside the directory
/// (no `/` or `\`, not `.` or `..`, no NUL). Other members and `metadata` members other than
/// `total_size` / `total_parameters` are ignored.
public struct HFShardIndex: Sendable, Equatable {
    /// The tensors in the index's order.
    public var tensorNames: [String]
    /// The shard file of each tensor.
    public var fileOf: [String: String]
    /// The distinct shard files, sorted by name.
    public var files: [String]
    /// `metadata.total_size` (tensor bytes), when given as an integer.
    public var totalSize: Int?
    /// `metadata.total_parameters`, when given as an integer.
    public var totalParameters: Int?

    /// The largest index file read.
    public static let maxFileBytes = 256 << 20

    /// Reads and validates the index at `path`.
    public static func read(path: String) throws(ContainerError) -> HFShardIndex {
        try HFShardIndex(json: SmallFile.read(path, maxBytes: maxFileBytes), path: path)
    }

    /// Validates the text of an index (`path` names it in messages).
    public init(json bytes: [UInt8], path: String) throws(ContainerError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .malformed(path: path, detail: "not valid JSON: \(error)") }
        guard let top = value.objectValue else { throw .malformed(path: path, detail: "not a JSON object") }
        guard let mapValue = top["weight_map"] else { throw .malformed(path: path, detail: "no weight_map") }
        guard let map = mapValue.objectValue else { throw .malformed(path: path, detail: "weight_map is not an object") }
        guard map.count > 0 else { throw .malformed(path: path, detail: "weight_map lists no tensors") }
        var names: [String] = []
        var fileOf: [String: String] = [:]
        var files = Set<String>()
        for (tensor, v) in map.members {
            let t = PrintableName.of(tensor)
            guard let file = v.stringValue else {
                throw .badTensor(path: path, tensor: t, detail: "weight_map value is \(v.kindDescription), not a file name")
            }
            if let problem = Self.shardNameProblem(file) {
                throw .refused(path: path, detail: "weight_map sends tensor \(t) to \(JSONReader.quote(file)): \(problem)")
            }
            names.append(tensor)
            fileOf[tensor] = file
            files.insert(file)
        }
        tensorNames = names
        self.fileOf = fileOf
        self.files = files.sorted()
        let metadata = top["metadata"]?.objectValue
        totalSize = metadata?["total_size"]?.intValue
        totalParameters = metadata?["total_parameters"]?.intValue
    }

    /// Why `name` cannot be a shard file of the directory (nil when it can): it must name a
    /// file directly inside the directory.
    public static func shardNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an empty file name" }
        if name == "." || name == ".." { return "not a file inside the directory" }
        if name.hasPrefix("/") { return "an absolute path, outside the directory" }
        if name.contains("/") || name.contains("\\") { return "a path with a directory separator; shards must sit directly in the directory" }
        if name.unicodeScalars.contains("\0") { return "a file name containing NUL" }
        if name.utf8.count > 255 { return "a file name longer than 255 bytes" }
        return nil
    }
}
