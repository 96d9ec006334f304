import Containers

/// `metadata.json` of a megatron.core.dist_checkpointing directory (`CheckpointingConfig`),
/// written last, so a finished checkpoint has it:
///
/// - megatron-core <= 0.18: `{"sharded_backend": "torch_dist", "sharded_backend_version": 1,
///   "common_backend": "torch", "common_backend_version": 1}` (the common state in `common.pt`);
/// - 0.19 and later: only `sharded_backend` and `sharded_backend_version` (the common state is
///   the DCP byte item `common_state/shard_0_1`).
///
/// Other members are refused only when they contradict these (a backend ckpt cannot read);
/// unknown ones are ignored as megatron-core ignores them.
public struct MegatronDistBackend: Sendable, Hashable {
    /// The file name.
    public static let fileName = "metadata.json"
    /// Bytes a `metadata.json` may have.
    public static let maxBytes = 1 << 16

    /// `sharded_backend_version`.
    public var shardedVersion: Int
    /// `common_backend`, nil in the 0.19+ form.
    public var commonBackend: String?

    /// Creates a config.
    public init(shardedVersion: Int = 1, commonBackend: String? = "torch") {
        self.shardedVersion = shardedVersion
        self.commonBackend = commonBackend
    }

    /// Parses the bytes of `path`.
    public init(bytes: [UInt8], path: String) throws(ContainerError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes, limits: JSONLimits(maxDepth: 8)) } catch {
            throw .malformed(path: path, detail: "not JSON: \(error.description)")
        }
        guard let o = value.objectValue else { throw .malformed(path: path, detail: "not a JSON object") }
        guard let backend = o["sharded_backend"] else {
            throw .malformed(path: path, detail: "no sharded_backend: not a megatron.core.dist_checkpointing metadata.json")
        }
        guard backend.stringValue == "torch_dist" else {
            throw .unsupported(
                path: path,
                detail: "sharded_backend \(Self.show(backend)): ckpt reads torch_dist (zarr checkpoints: convert them with megatron-core < 0.17 first)")
        }
        guard let v = o["sharded_backend_version"]?.intValue, v >= 1, v < 1 << 20 else {
            throw .malformed(path: path, detail: "sharded_backend_version is not a positive integer")
        }
        guard v == 1 else { throw .unsupported(path: path, detail: "sharded_backend_version \(v): ckpt reads version 1") }
        shardedVersion = v
        if let c = o["common_backend"], !c.isNull {
            guard c.stringValue == "torch" else {
                throw .unsupported(path: path, detail: "common_backend \(Self.show(c)): ckpt reads torch (common.pt)")
            }
            if let cv = o["common_backend_version"], cv.intValue != 1 {
                throw .unsupported(path: path, detail: "common_backend_version \(Self.show(cv)): ckpt reads version 1")
            }
            commonBackend = "torch"
        } else {
            commonBackend = nil
        }
    }

    /// Reads `dir/metadata.json`.
    public static func read(directory dir: String) throws(ContainerError) -> MegatronDistBackend {
        let p = dir + "/" + fileName
        return try MegatronDistBackend(bytes: try SmallFile.read(p, maxBytes: maxBytes), path: p)
    }

    /// The file's text as megatron-core 0.16.1 writes it (json.dump of the dataclass: one line,
    /// no newline).
    public var text: String {
        var s = "{\"sharded_backend\": \"torch_dist\", \"sharded_backend_version\": \(shardedVersion)"
        if let c = commonBackend { s += ", \"common_backend\": \"\(c)\", \"common_backend_version\": 1" }
        return s + "}"
    }

    private static func show(_ v: JSONValue) -> String {
        if let s = v.stringValue { return "'\(s.prefix(40))'" }
        return v.kindDescription
    }
}
