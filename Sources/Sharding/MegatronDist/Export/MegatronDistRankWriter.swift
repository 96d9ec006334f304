import CheckpointStore
import Containers
import Foundation

/// Writes one (TP, PP) rank of a `torch_dist` export: its tensors as the DCP chunks
/// megatron-core's save would write for that rank (`MegatronDistExportPlan`), into the data file
/// `__{tp + TP x pp}_0.distcp` of the iteration directory's shared DCP writer
/// (`MegatronDistSharedWriter`, planned by `MegatronDistWritePlanner`), and at commit its byte
/// items (`_extra_state` per layer module on TP rank 0, RNG states when restored). Rank
/// tp0/pp0 also writes `common.pt` (`MegatronStateDictBuilder.distCommon`). The last rank's
/// commit writes `.metadata`; `metadata.json` and the tracker are the target's text files.
///
/// The optimizer state is written in the distributed optimizer's `fully_reshardable` form,
/// which megatron-core loads at any TP x PP x DP.
public final class MegatronDistRankWriter: NotingContainerWriter {
    /// The rank's data file (what the converter names for this rank).
    public let path: String
    /// The rank written.
    public let file: ShardFile
    /// What the commit kept, synthesised or left out, one line each (filled by `commit`).
    public private(set) var notes: [String] = []

    private let manifest: [ContainerTensor]
    private let plan: MegatronDistExportPlan
    private let planner: MegatronDistWritePlanner
    private let builder: MegatronStateDictBuilder
    private let shared: MegatronDistSharedWriter
    private let directory: String
    private var next = 0
    private var finished = false

    /// Prepares rank `file` of the `layout` (megatron, the target TP x PP) export whose data file
    /// is `path` (inside the iteration directory, which exists). `metadata` gives the step, the
    /// optimizer and the source's Megatron state (`userJSON`'s `megatron` blob).
    public init(
        path: String, file: ShardFile, shape: MegatronShape, config: ModelConfig, metadata: CheckpointMetadata, manifest: [ContainerTensor],
        interpreter: LayoutInterpreter, options: MegatronTorchExportOptions = MegatronTorchExportOptions()
    ) throws(ContainerError) {
        self.path = path
        self.file = file
        self.manifest = manifest
        directory = (path as NSString).deletingLastPathComponent
        let layout: MegatronDistLayout
        do throws(ShardingError) {
            layout = try MegatronDistLayout(config: config, shape: shape, layerKeys: .stacked, interpreter: interpreter)
        } catch {
            throw .malformed(path: path, detail: error.description)
        }
        plan = try MegatronDistExportPlan(manifest: manifest, file: file, layout: layout, path: path)
        let models = manifest.filter(\.key.isModel)
        guard let first = models.first else { throw .malformed(path: path, detail: "the manifest holds no model tensors") }
        let hasOptimizer = manifest.contains { !$0.key.isModel }
        if hasOptimizer {
            for t in models {
                var needed: Set<String> = ["exp_avg", "exp_avg_sq"]
                if t.dtype == .bfloat16 || t.dtype == .float16 { needed.insert("master") }
                for s in needed where !manifest.contains(where: { $0.key == .optimizer(s, t.key.name) }) {
                    throw .badTensor(path: path, tensor: "optimizer.\(s).\(t.key.name)", detail: "missing: the optimizer state must cover every parameter")
                }
            }
        }
        builder = try MegatronStateDictBuilder(
            path: path, file: file, shape: shape, config: config, metadata: metadata, params: models, hasOptimizer: hasOptimizer, options: options)
        var dtypes: [String: DType] = [:]
        for t in models { dtypes[t.key.name] = t.dtype }
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        planner = MegatronDistWritePlanner(
            layout: layout, naming: builder.naming, hasOptimizer: hasOptimizer, dtypes: dtypes, defaultDType: first.dtype,
            restoresRNG: builder.sameLayout && builder.blob?.ranks[origin]?["rng_state"] != nil)
        let planner = self.planner
        let dir = directory
        shared = try MegatronDistSharedWriter.writer(for: dir, ranks: Set(shape.files)) { () throws(ContainerError) in
            try DCPCheckpointWriter(writingInto: dir, reportingAs: dir, plan: try planner.plan(path: dir))
        }
    }

    /// A writer released without commit drops the checkpoint (as `abort`).
    deinit { if !finished { shared.abort() } }

    /// Starts the next manifest tensor: its bytes go to its chunks.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        guard !finished else { throw .malformed(path: path, detail: "writer already committed or aborted") }
        guard next < manifest.count else { throw .badTensor(path: path, tensor: key.description, detail: "beyond the manifest's \(manifest.count) tensors") }
        let expected = manifest[next]
        guard expected.key == key, expected.dtype == dtype, expected.shape == shape else {
            throw .badTensor(
                path: path, tensor: key.description,
                detail: "out of manifest order: expected \(expected.key) \(expected.dtype.rawValue)\(expected.shape), got \(dtype.rawValue)\(shape)")
        }
        let chunks = plan.chunks[next]
        for c in chunks {
            guard let planned = shared.dcp.plan.tensors.first(where: { $0.fqn == c.fqn }), planned.dtype == c.dtype else {
                throw .badTensor(
                    path: path, tensor: key.description,
                    detail: "is \(c.dtype.rawValue) but the checkpoint plans \(c.fqn) otherwise (parameters of one dtype are required)")
            }
        }
        next += 1
        return try MegatronDistChunkSink(
            dcp: shared.dcp, chunks: chunks, rows: shape.first ?? 1, rowBytes: shape.dropFirst().reduce(1, *) * dtype.size, spoolDirectory: directory,
            path: path)
    }

    /// Writes the rank's byte items (and `common.pt` on rank tp0/pp0); the last rank's commit
    /// writes `.metadata`.
    public func commit() throws(ContainerError) {
        guard !finished else { throw .malformed(path: path, detail: "writer already committed or aborted") }
        guard next == manifest.count else {
            abort()
            throw .malformed(path: path, detail: "commit after \(next) of the manifest's \(manifest.count) tensors")
        }
        do {
            try writeItems()
            if file == ShardFile(tpRank: 0, ppRank: 0) { try writeCommon() }
            finished = true
            try shared.rankCommitted(file)
        } catch {
            finished = true
            shared.abort()
            throw error
        }
    }

    /// Drops everything written (the whole checkpoint: its ranks share one DCP writer).
    public func abort() {
        guard !finished else { return }
        finished = true
        shared.abort()
    }

    private func writeItems() throws(ContainerError) {
        let blob = builder.sameLayout ? builder.blob : nil
        if file.tpRank == 0 {
            var saved: [String: PickleJSON.Decoded] = [:]
            if let b = blob, case .object(let members)? = b.ranks[file]?["extra_state"] {
                for (k, v) in members { saved[k] = try PickleJSON.decode(v, path: "metadata") }
            }
            for item in planner.extraStateItems(stage: file.ppRank) {
                if let v = saved[item.local], !v.inline.isEmpty {
                    try shared.dcp.writeBytesItem(
                        item.fqn, bytes: try MegatronDistObjectBytes.torchSave(.list([v.value]), inline: v.inline, scratch: directory))
                } else {
                    try shared.dcp.writeObjectItem(item.fqn, .list([saved[item.local]?.value ?? .none]))
                }
            }
        }
        if planner.restoresRNG {
            guard let rng = try blob?.rankValue(file, "rng_state") else {
                throw .malformed(path: path, detail: "the source's RNG state of rank \(file) is missing from the metadata")
            }
            let fqn = MegatronDistWritePlanner.rngItem(file, shape: planner.layout.shape)
            try shared.dcp.writeBytesItem(fqn, bytes: try MegatronDistObjectBytes.torchSave(.list([rng.value]), inline: rng.inline, scratch: directory))
        }
    }

    private func writeCommon() throws(ContainerError) {
        let p = directory + "/" + MegatronDistDirectory.commonFile
        let archive = try TorchArchiveWriter(path: p, prefix: TorchArchiveWriter.defaultPrefix(for: p))
        do {
            let (root, notes) = try builder.distCommon(archive: archive)
            self.notes = notes
            try archive.commit(root: root)
        } catch {
            archive.abort()
            throw error
        }
    }
}
