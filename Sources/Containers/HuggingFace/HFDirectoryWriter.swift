import CheckpointStore

/// Writes a Hugging Face model directory as `save_pretrained` does: config.json, safetensors
/// shards of at most `maxShardBytes` tensor bytes (`HFShardPlan`) and, for several shards,
/// `model.safetensors.index.json` (`{"metadata": {"total_parameters", "total_size"},
/// "weight_map"}`).
///
/// Tensors arrive in manifest order through `beginTensor`; each goes to its shard's
/// `SafetensorsWriter`, and at most one shard is open at a time (the previous one is committed
/// when the next begins). Everything is built in a temporary directory beside `path`, published
/// by one rename at `commit` (`AtomicDirectory`); `abort`, an error, or releasing the writer
/// unpublished removes it; after any error the writer is unusable. Hugging Face checkpoints hold model tensors only: a manifest with
/// optimizer state is refused, so the caller drops it and says so.
public final class HFDirectoryWriter: TensorContainerWriter {
    /// huggingface_hub's default shard limit, 5 GB.
    public static let defaultMaxShardBytes = 5_000_000_000

    /// The final directory.
    public let path: String
    /// The config.json to write.
    public let config: HFConfig
    /// The tensors, in the order they arrive.
    public let manifest: [ContainerTensor]
    /// The shards.
    public let plan: HFShardPlan

    private let directory: AtomicDirectory
    private var shard: SafetensorsWriter?
    private var shardIndex = -1
    private var next = 0
    private var done = false

    /// Plans the shards and creates the temporary directory. `config.dtype` nil takes the
    /// floating-point dtype holding most of the manifest's bytes.
    public init(
        path: String, config: HFConfig, manifest: [ContainerTensor], maxShardBytes: Int = defaultMaxShardBytes,
        replace: Bool = false
    ) throws(ContainerError) {
        if let t = manifest.first(where: { !$0.key.isModel }) {
            throw .unsupported(
                path: path,
                detail: "tensor \(PrintableName.of(t.key.description)): Hugging Face checkpoints hold model tensors only (drop optimizer state first)")
        }
        self.path = path
        self.manifest = manifest
        plan = try HFShardPlan(manifest: manifest, maxShardBytes: maxShardBytes, path: path)
        var config = config
        if config.dtype == nil { config.dtype = Self.dominantFloatType(manifest) }
        self.config = config
        do { directory = try AtomicDirectory(path: path, replace: replace) } catch { throw .store(error) }
    }

    /// Yes: the writer keeps its state (and its shards' writers) to itself.
    public var isIndependent: Bool { true }

    /// Plans and creates the directory for `model` (config.json mapped by `HFConfig`).
    public convenience init(
        path: String, model: ModelConfig, manifest: [ContainerTensor], maxShardBytes: Int = defaultMaxShardBytes,
        dtype: DType? = nil, replace: Bool = false
    ) throws(ContainerError) {
        let config = try HFConfig(model: model, dtype: dtype, path: path + "/config.json")
        try self.init(path: path, config: config, manifest: manifest, maxShardBytes: maxShardBytes, replace: replace)
    }

    deinit {
        if !done { abort() }
    }

    /// The temporary directory being filled.
    public var temporaryPath: String { directory.temporaryPath }

    /// Starts the next tensor of the manifest in its shard, committing the previous shard and
    /// opening the next when the tensor belongs to a new one.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        guard !done else { throw .io(path: path, detail: "writer already committed or aborted") }
        let name = PrintableName.of(key.description)
        do throws(ContainerError) {
            guard next < manifest.count else {
                throw .badTensor(path: path, tensor: name, detail: "not in the manifest (all \(manifest.count) tensors are written)")
            }
            guard manifest[next].key == key else {
                throw .badTensor(
                    path: path, tensor: name, detail: "out of order: the manifest has tensor \(PrintableName.of(manifest[next].key.description)) next")
            }
            try openShard(plan.shardOf[next])
            guard let shard else { throw .io(path: path, detail: "no shard open") }
            let sink = try shard.beginTensor(key, dtype: dtype, shape: shape)
            next += 1
            return sink
        } catch {
            abort()
            throw error
        }
    }

    /// Commits the last shard, writes the index (several shards) and config.json, and
    /// publishes the directory.
    public func commit() throws(ContainerError) {
        guard !done else { throw .io(path: path, detail: "writer already committed or aborted") }
        do throws(ContainerError) {
            guard next == manifest.count else {
                throw .badTensor(path: path, tensor: PrintableName.of(manifest[next].key.description), detail: "in the manifest but never written")
            }
            try openShard(plan.shards.count - 1)  // an empty manifest still gets its one (empty) file
            try shard?.commit()
            shard = nil
            if plan.shards.count > 1 { try writeFile(HFWeightFiles.safetensorsNames.index, indexText()) }
            try writeFile("config.json", config.jsonText())
            do { try directory.publish() } catch { throw ContainerError.store(error) }
            done = true
        } catch {
            abort()
            throw error
        }
    }

    /// Removes the temporary directory; `path` is untouched.
    public func abort() {
        guard !done else { return }
        done = true
        shard?.abort()
        shard = nil
        directory.discard()
    }

    /// The index text: sorted keys, two-space indent, as transformers writes it.
    func indexText() -> String {
        var map = JSONObject()
        for (i, t) in manifest.enumerated() { map.insert(t.key.name, .string(plan.fileNames[plan.shardOf[i]])) }
        let metadata = JSONObject([("total_parameters", .int(plan.totalParameters)), ("total_size", .int(plan.totalBytes))]) ?? JSONObject()
        let index = JSONObject([("metadata", .object(metadata)), ("weight_map", .object(map))]) ?? JSONObject()
        return JSONText.pretty(.object(index)) + "\n"
    }

    /// Makes shard `i` the open one (committing the one before).
    private func openShard(_ i: Int) throws(ContainerError) {
        guard i != shardIndex else { return }
        try shard?.commit()
        shard = nil
        let tensors = plan.shards[i].map { manifest[$0] }
        shard = try SafetensorsWriter(path: temporaryPath + "/" + plan.fileNames[i], manifest: tensors, overwrite: false)
        shardIndex = i
    }

    /// Writes a small file into the temporary directory, durably.
    private func writeFile(_ name: String, _ text: String) throws(ContainerError) {
        let p = temporaryPath + "/" + name
        let out = try OutputFile(creating: p, reportingAs: path + "/" + name)
        try out.write(Array(text.utf8))
        try out.close()
        do { try AtomicFile.fsyncPath(p, directory: false) } catch { throw .store(error) }
    }

    /// The floating-point dtype with the most bytes in `manifest`, or nil.
    static func dominantFloatType(_ manifest: [ContainerTensor]) -> DType? {
        var bytes: [DType: Int] = [:]
        for t in manifest where t.dtype.isFloatingPoint {
            let (sum, o) = bytes[t.dtype, default: 0].addingReportingOverflow(t.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue })
            bytes[t.dtype] = o ? .max : sum
        }
        return bytes.max { ($0.value, $0.key.rawValue) < ($1.value, $1.key.rawValue) }?.key
    }
}
