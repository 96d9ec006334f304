import CheckpointStore
import Containers

/// Writes one rank's `model_optim_rng.pt` of a Megatron-LM `torch`-format checkpoint as
/// `megatron.training`'s `save_checkpoint` does, streaming every tensor into its own storage.
///
/// Created with the manifest of the rank's tensors (section `model` with megatron-core
/// local-spec names, and `optimizer/exp_avg`, `optimizer/exp_avg_sq`, `optimizer/master`), it
/// receives them in that order; `commit` pickles the root dict of `generate_state_dict`:
/// `args`, `checkpoint_version` 3.0, `iteration`, `model` (module-registration order),
/// `optimizer` in the non-distributed form of `Float16OptimizerWithFloat16Params` (or
/// `FP32Optimizer` for fp32 models) with parameter indices following megatron-core 0.16.1's
/// grouping, `opt_param_scheduler`, `rerun_state_machine` and `rng_state` when the metadata
/// holds them, and `num_floating_point_operations_so_far`. See `MegatronStateDictBuilder` for
/// what is restored from the metadata and what is synthesised.
public final class MegatronTorchRankWriter: NotingContainerWriter {
    /// The final `model_optim_rng.pt` path.
    public let path: String
    /// The rank written.
    public let file: ShardFile
    /// What the commit kept, synthesised or left out, one line each (filled by `commit`).
    public private(set) var notes: [String] = []

    private let manifest: [ContainerTensor]
    private let builder: MegatronStateDictBuilder
    private let archive: any TorchArchiveSink
    private var written: [TensorKey: TorchTensorRef] = [:]
    private var next = 0
    private var finished = false

    /// Prepares rank `file` of `shape` for `config` at `path` into `archive`. `metadata` gives
    /// the step, the optimizer and (under `userJSON`'s `megatron` key) the source's Megatron
    /// state. The manifest must hold every model tensor of the rank and either no optimizer
    /// state or all of it: `exp_avg` and `exp_avg_sq` (fp32) for every parameter and an fp32
    /// `master` for each bfloat16/float16 parameter.
    public init(
        path: String, file: ShardFile, shape: MegatronShape, config: ModelConfig, metadata: CheckpointMetadata,
        manifest: [ContainerTensor], options: MegatronTorchExportOptions = MegatronTorchExportOptions(), archive: any TorchArchiveSink
    ) throws(ContainerError) {
        self.path = path
        self.file = file
        self.manifest = manifest
        self.archive = archive
        var seen = Set<TensorKey>()
        var params: [String: ContainerTensor] = [:]
        for t in manifest {
            guard seen.insert(t.key).inserted else { throw .badTensor(path: path, tensor: t.key.description, detail: "listed twice in the manifest") }
            if t.key.isModel { params[t.key.name] = t }
        }
        guard !params.isEmpty else { throw .malformed(path: path, detail: "the manifest holds no model tensors") }
        var states: [String: Set<String>] = [:]
        for t in manifest where !t.key.isModel {
            let name = t.key.name
            guard let s = t.key.optimizerState, ["exp_avg", "exp_avg_sq", "master"].contains(s) else {
                throw .badTensor(path: path, tensor: t.key.description, detail: "section \(t.key.section) has no place in a Megatron rank file")
            }
            guard let p = params[name] else {
                throw .badTensor(path: path, tensor: t.key.description, detail: "optimizer state of a tensor that is not in the manifest")
            }
            guard t.dtype == .float32, t.shape == p.shape else {
                throw .badTensor(
                    path: path, tensor: t.key.description,
                    detail: "is \(t.dtype.rawValue)\(t.shape); Megatron keeps optimizer state in float32 shaped like its parameter \(p.shape)")
            }
            if s == "master" && !(p.dtype == .bfloat16 || p.dtype == .float16) {
                throw .badTensor(path: path, tensor: t.key.description, detail: "a master copy of a \(p.dtype.rawValue) parameter")
            }
            states[name, default: []].insert(s)
        }
        if !states.isEmpty {
            for (name, p) in params {
                var needed: Set<String> = ["exp_avg", "exp_avg_sq"]
                if p.dtype == .bfloat16 || p.dtype == .float16 { needed.insert("master") }
                if let missing = needed.subtracting(states[name] ?? []).sorted().first {
                    throw .badTensor(path: path, tensor: "optimizer.\(missing).\(name)", detail: "missing: the optimizer state must cover every parameter")
                }
            }
        }
        builder = try MegatronStateDictBuilder(
            path: path, file: file, shape: shape, config: config, metadata: metadata,
            params: manifest.filter(\.key.isModel), hasOptimizer: !states.isEmpty, options: options)
    }

    /// Prepares rank `file` written to `path` through a `TorchArchiveWriter` (record prefix:
    /// the file stem, `model_optim_rng`, as `torch.save` names it).
    public convenience init(
        path: String, file: ShardFile, shape: MegatronShape, config: ModelConfig, metadata: CheckpointMetadata,
        manifest: [ContainerTensor], options: MegatronTorchExportOptions = MegatronTorchExportOptions()
    ) throws(ContainerError) {
        let archive = try TorchArchiveWriter(path: path, prefix: TorchArchiveWriter.defaultPrefix(for: path))
        do {
            try self.init(path: path, file: file, shape: shape, config: config, metadata: metadata, manifest: manifest, options: options, archive: archive)
        } catch {
            archive.abort()
            throw error
        }
    }

    /// Whether its archive is independent of other writers' (a `TorchArchiveWriter` is).
    public var isIndependent: Bool { archive.isIndependent }

    /// Starts the next manifest tensor: a storage of its own in the archive.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        guard !finished else { throw .malformed(path: path, detail: "writer already committed or aborted") }
        guard next < manifest.count else {
            throw .badTensor(path: path, tensor: key.description, detail: "beyond the manifest's \(manifest.count) tensors")
        }
        let expected = manifest[next]
        guard expected.key == key, expected.dtype == dtype, expected.shape == shape else {
            throw .badTensor(
                path: path, tensor: key.description,
                detail: "out of manifest order: expected \(expected.key) \(expected.dtype.rawValue)\(expected.shape), got \(dtype.rawValue)\(shape)")
        }
        let (storage, sink) = try archive.beginStorage(dtypeName: TorchDTypeName.name(dtype), elementCount: expected.count)
        written[key] = MegatronStateDictBuilder.dense(storage, dtypeName: TorchDTypeName.name(dtype), shape: shape)
        next += 1
        return sink
    }

    /// Builds the root dict and publishes the archive.
    public func commit() throws(ContainerError) {
        guard !finished else { throw .malformed(path: path, detail: "writer already committed or aborted") }
        guard next == manifest.count else {
            archive.abort()
            finished = true
            throw .malformed(path: path, detail: "commit after \(next) of the manifest's \(manifest.count) tensors")
        }
        do {
            let (root, notes) = try builder.build(written: written, archive: archive)
            self.notes = notes
            try archive.commit(root: root)
            finished = true
        } catch {
            archive.abort()
            finished = true
            throw error
        }
    }

    /// Drops everything written.
    public func abort() {
        guard !finished else { return }
        finished = true
        archive.abort()
    }
}
