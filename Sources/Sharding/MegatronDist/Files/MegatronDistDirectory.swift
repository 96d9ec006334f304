import CheckpointStore
import Containers
import Foundation

/// A Megatron `torch_dist` checkpoint (megatron.core.dist_checkpointing, `--ckpt-format
/// torch_dist`): the tracker `latest_checkpointed_iteration.txt` as for the `torch` format, and
/// an iteration directory `iter_{it:07d}/` (or `release/`) holding `metadata.json`
/// (`MegatronDistBackend`), the common state (`common.pt`, or the DCP byte item
/// `common_state/shard_0_1` from megatron-core 0.19 on) and a PyTorch DCP checkpoint
/// (`.metadata` + `__R_k.distcp`) of global tensors.
///
/// Opened as the (TP, PP) grid its args name: one `MegatronDistRank` per rank, holding what
/// that rank's model and optimizer held (`MegatronDistRankBuilder`), so the Megatron layout's
/// planner, merger and splitter treat it like any Megatron directory. The args, scheduler, RNG
/// states and `_extra_state` items ride in the metadata as for the `torch` format
/// (`MegatronDistState`).
public final class MegatronDistDirectory: Sendable {
    /// The common state file (megatron-core <= 0.18).
    public static let commonFile = "common.pt"
    /// The DCP byte item holding the common state from megatron-core 0.19 on.
    public static let commonStateItem = "common_state/shard_0_1"
    /// DCP's metadata file.
    public static let dcpMetadataFile = ".metadata"

    /// The directory given.
    public let path: String
    /// The iteration directory read.
    public let iterationDirectory: String
    /// `metadata.json`.
    public let backend: MegatronDistBackend
    /// The DCP checkpoint.
    public let store: any DistCheckpointStore
    /// The args.
    public let args: MegatronArgs
    /// The parallel shape the args name, without virtual pipeline chunks (the ranks presented).
    public let shape: MegatronShape
    /// The architecture.
    public let modelConfig: ModelConfig
    /// The optimizer, or nil without optimizer state.
    public let optimizerConfig: OptimizerConfig?
    /// How the optimizer state is stored.
    public let optimizerForm: MegatronDistOptimizerForm
    /// How decoder layers are keyed.
    let layerKeys: MegatronDistLayout.LayerKeys
    /// The ranks.
    public let ranks: [ShardFile: MegatronDistRank]
    /// step = iteration, model_config, optimizer, and the Megatron state under `userJSON`'s
    /// `megatron` key (the `torch` format's blob, so exports restore it).
    public let metadata: CheckpointMetadata
    /// What was kept opaque, dropped or assumed, one line each.
    public let notes: [String]

    /// Opens `path` (a root with the tracker, or an `iter_*` / `release` directory). `vocab` is
    /// the unpadded vocabulary if the caller knows it; `openStore` opens the DCP checkpoint of
    /// an iteration directory.
    public init(
        path: String, vocab: Int? = nil, interpreter: LayoutInterpreter,
        openStore: (String) throws(ContainerError) -> any DistCheckpointStore
    ) throws(ShardingError) {
        self.path = path
        let iter: String
        do throws(ContainerError) {
            (iter, _) = try MegatronTorchDirectory.iterationDirectory(of: path)
        } catch { throw .from(error) }
        iterationDirectory = iter
        let opened = try Self.wrap { () throws(ContainerError) in
            guard FileManager.default.fileExists(atPath: iter + "/" + MegatronDistBackend.fileName) else {
                throw .malformed(
                    path: iter, detail: "no \(MegatronDistBackend.fileName): megatron-core writes it last, so this save did not finish")
            }
            let backend = try MegatronDistBackend.read(directory: iter)
            let store = try openStore(iter)
            let common = try Self.commonState(iter, backend: backend, store: store)
            return (backend, store, common)
        }
        backend = opened.0
        let store = opened.1
        self.store = store
        let common = opened.2
        let commonPath = common.path
        guard case .dict = common.root else { throw .container(.malformed(path: commonPath, detail: "the common state is not a dict")) }
        guard let argsValue = common.root["args"] else { throw .container(.malformed(path: commonPath, detail: "no args entry")) }
        let args = try Self.wrap { () throws(ContainerError) in try MegatronArgs(argsValue, path: commonPath) }
        self.args = args
        // The global tensors do not depend on a virtual pipeline: the ranks are presented as
        // TP x PP without model chunks (megatron-core loads them at any VPP).
        let shape = MegatronShape(tp: args.shape.tp, pp: args.shape.pp, vocabDivisibleBy: args.shape.vocabDivisibleBy)
        self.shape = shape
        guard case .int(let iteration)? = common.root["iteration"] else {
            throw .container(.malformed(path: commonPath, detail: "no integer iteration entry"))
        }
        var notes: [String] = []
        let (v, source) = try Self.wrap { () throws(ContainerError) in try args.vocab(requested: vocab) }
        modelConfig = try Self.wrap { () throws(ContainerError) in try args.modelConfig(vocab: v) }
        if source == .padded {
            notes.append(
                "the unpadded vocabulary is not recorded (args.padded_vocab_size = \(args.paddedVocab)); the padding rows are kept as vocabulary rows: pass the tokenizer's size to drop them"
            )
        }
        let entries = store.tensorEntries
        let names = entries.map(\.fqn) + store.byteItemNames
        let content = common.root["content_metadata"]
        let sharding: String? = {
            if case .string(let s)? = content?["distrib_optim_sharding_type"] { return s }
            return nil
        }()
        let form = try Self.wrap { () throws(ContainerError) in
            try MegatronDistOptimizerForm.detect(sharding: sharding, commonOptimizer: common.root["optimizer"], names: names, path: iter)
        }
        optimizerForm = form
        if form == .dpReshardable && args.shape.vpp > 1 {
            throw .container(
                .unsupported(
                    path: commonPath,
                    detail:
                        "dp_reshardable optimizer state with a virtual pipeline (VPP \(args.shape.vpp): one grad buffer per model chunk) is not supported; re-save with --dist-ckpt-optim-fully-reshardable"
                ))
        }
        if content?["singleton_local_shards"] == .bool(true) {
            throw .container(
                .unsupported(path: commonPath, detail: "content_metadata.singleton_local_shards = True (per-rank SwiGLU _w/_v keys) is not supported"))
        }
        layerKeys = MegatronDistLayout.layerKeys(of: entries.map(\.fqn))
        let layout = try MegatronDistLayout(config: modelConfig, shape: shape, layerKeys: layerKeys, interpreter: interpreter)
        var byName: [String: DistTensorEntry] = [:]
        for e in entries { byName[e.fqn] = e }
        let naming: MegatronNaming = args.transformerImpl == "transformer_engine" ? .transformerEngine : .local
        let builder = MegatronDistRankBuilder(layout: layout, entries: byName, form: form, args: args, naming: naming, path: iter)
        var ranks: [ShardFile: MegatronDistRank] = [:]
        for f in shape.files {
            let list = try Self.wrap { () throws(ContainerError) in try builder.build(f) }
            ranks[f] = MegatronDistRank(store: store, file: f, entries: list)
        }
        self.ranks = ranks
        let state = try Self.wrap { () throws(ContainerError) in
            try MegatronDistState(common: common, store: store, shape: shape, layout: layout, form: form, notes: &notes)
        }
        optimizerConfig = form == .none ? nil : try Self.wrap { () throws(ContainerError) in try args.optimizerConfig(paramGroups: state.paramGroups) }
        notes.insert(
            "torch_dist: \(layerKeys == .stacked ? "stacked layer axis" : "per-layer keys"), optimizer \(form.rawValue), \(entries.count) tensors, \(store.byteItemNames.count) byte items",
            at: 0)
        if form == .none { notes.append("no optimizer state (saved with --no-save-optim)") }
        self.notes = notes
        metadata = CheckpointMetadata(
            step: iteration, modelConfig: modelConfig, optimizer: optimizerConfig,
            userJSON: MegatronTorchMetadata(shape: shape, dataParallel: args.dataParallel, common: state.common, ranks: state.ranks).userJSON)
    }

    /// Whether `path` looks like a `torch_dist` checkpoint: its iteration directory holds DCP's
    /// `.metadata` and `metadata.json` or `common.pt` (without `metadata.json` it is an
    /// unfinished save, which opening then says).
    public static func isMegatronDist(_ path: String) -> Bool {
        guard let (iter, _) = try? MegatronTorchDirectory.iterationDirectory(of: path) else { return false }
        let fm = FileManager.default
        return fm.fileExists(atPath: iter + "/" + dcpMetadataFile)
            && (fm.fileExists(atPath: iter + "/" + MegatronDistBackend.fileName) || fm.fileExists(atPath: iter + "/" + commonFile))
    }

    /// The common state: `common.pt` when present, else the `common_state/shard_0_1` item
    /// (`torch.save([common_dict])`).
    static func commonState(_ iter: String, backend: MegatronDistBackend, store: any DistCheckpointStore) throws(ContainerError) -> CommonState {
        let file = iter + "/" + commonFile
        if FileManager.default.fileExists(atPath: file) {
            let a = try TorchArchive(path: file)
            return CommonState(path: file, root: a.root, source: a)
        }
        guard store.byteItemNames.contains(commonStateItem) else {
            throw .malformed(path: iter, detail: "no \(commonFile) and no DCP item \(commonStateItem): the common state (args, iteration) is missing")
        }
        let item = try store.object(commonStateItem)
        guard let list = item.root.elements, list.count == 1, case .dict = list[0] else {
            throw .malformed(path: iter + "/" + commonStateItem, detail: "not a one-element list holding the common dict")
        }
        return CommonState(path: iter + "/" + commonStateItem, root: list[0], source: item)
    }

    /// The common dict and where it came from.
    struct CommonState {
        var path: String
        var root: PickleValue
        var source: any TorchPickleSource
    }

    private static func wrap<T>(_ body: () throws(ContainerError) -> T) throws(ShardingError) -> T {
        do throws(ContainerError) { return try body() } catch { throw .from(error) }
    }
}
