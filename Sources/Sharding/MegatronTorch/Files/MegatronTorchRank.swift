import CheckpointStore
import Containers
import Foundation

/// One rank directory of a Megatron-LM `torch`-format checkpoint
/// (`iter_*/mp_rank_TT[_PPP]/`: `model_optim_rng.pt`, plus `distrib_optim.pt` with the
/// distributed optimizer) as a `TensorContainer`.
///
/// Tensors carry the names ckpt's Megatron rank files use: `.model(name)` with megatron-core's
/// local-spec names (Transformer Engine's fused norm names are mapped, see `MegatronNaming`),
/// and `.optimizer("exp_avg" | "exp_avg_sq" | "master", name)` with the parameter's name —
/// `master` (fp32) only for bfloat16/float16 parameters. With a virtual pipeline the file holds
/// one state dict per model chunk (`model0`, `model1`, ...) and each name is prefixed by its
/// chunk's key (`model1.decoder.layers.0.mlp.linear_fc1.weight`, `MegatronNaming.chunkPrefix`).
/// `_extra_state` entries are not tensors of the model: they are kept, opaque, in `state` (and
/// listed in `notes`).
public final class MegatronTorchRank: TensorContainer {
    /// The rank directory.
    public let path: String
    /// Which rank it is (from the directory name).
    public let file: ShardFile
    /// The `args` Namespace.
    public let args: MegatronArgs
    /// `iteration`.
    public let iteration: Int64
    /// How the file names the tensors.
    public let naming: MegatronNaming
    /// Every tensor: model tensors in file order, then per parameter its optimizer states.
    public let tensors: [ContainerTensor]
    /// What was kept opaque or dropped, one line each.
    public let notes: [String]
    /// `model_optim_rng.pt["optimizer"]`'s form: `float16`, `fp32`, `distributed` or `none`.
    public let optimizerForm: String
    /// The saved optimizer `param_groups` (hyperparameters of the next step).
    public let paramGroups: [PickleValue]
    /// Everything else of the rank's state, without tensors (see `MegatronTorchState`).
    public let state: MegatronTorchState

    private let sources: [any TorchPickleSource]
    private let index: [TensorKey: (Int, TorchTensorRef)]

    /// `torch`.
    public var formatName: String { "megatron-torch" }
    /// `torch.save` stores no checksums.
    public var verifiesChecksums: Bool { false }

    /// Reads a rank from its decoded archives: `model` (`model_optim_rng.pt`) and, with the
    /// distributed optimizer, `distributed` (`distrib_optim.pt`). `path` is the rank directory.
    public init(path: String, file: ShardFile, model: any TorchPickleSource, distributed: (any TorchPickleSource)?) throws(ContainerError) {
        self.path = path
        self.file = file
        let mpath = model.path
        let root = model.root
        guard case .dict(let top) = root else { throw .malformed(path: mpath, detail: "the pickled root is not a dict") }
        guard let argsValue = root["args"] else { throw .malformed(path: mpath, detail: "no args entry") }
        let args = try MegatronArgs(argsValue, path: mpath)
        self.args = args
        guard case .int(let it)? = root["iteration"] else { throw .malformed(path: mpath, detail: "no integer iteration entry") }
        iteration = it
        if let v = root["checkpoint_version"]?.doubleValue, v < 3 {
            throw .unsupported(path: mpath, detail: "checkpoint_version \(v): checkpoints older than Megatron's 3.0 layout are not supported")
        }
        let chunkKeys = try Self.chunkKeys(top, vpp: args.shape.vpp, path: mpath)
        if file.tpRank >= args.shape.tp || file.ppRank >= args.shape.pp {
            throw .malformed(path: mpath, detail: "rank \(file) lies outside args TP \(args.shape.tp) x PP \(args.shape.pp)")
        }

        var notes: [String] = []
        var listed: [ContainerTensor] = []
        var index: [TensorKey: (Int, TorchTensorRef)] = [:]
        // The parameters of each model chunk in registration order: the optimizer numbers and
        // groups them chunk after chunk, the distributed optimizer keeps a buffer per chunk.
        var chunks: [[MegatronParamGroups.Param]] = []
        var extra: [(String, PickleValue)] = []
        var teNames = false
        for chunkKey in chunkKeys {
            guard let modelEntries = root[chunkKey]?.stateDictEntries else { throw .malformed(path: mpath, detail: "no \(chunkKey) state dict") }
            let prefix = chunkKeys.count > 1 ? chunkKey + "." : ""
            var params: [MegatronParamGroups.Param] = []
            for e in modelEntries {
                guard case .string(let key) = e.key else { throw .malformed(path: mpath, detail: "\(chunkKey) has a non-string key") }
                if MegatronNaming.isExtraState(key) {
                    extra.append((prefix + key, e.value))
                    if key.hasSuffix(".core_attention._extra_state") { teNames = true }
                    continue
                }
                guard case .tensor(let t) = e.value else {
                    notes.append("\(chunkKey).\(key): \(ArgReader.show(e.value)) is not a tensor; dropped")
                    continue
                }
                let local = MegatronNaming.localName(key)
                if local != key { teNames = true }
                let name = prefix + local
                guard let dtype = TorchDTypeName.dtype(t.dtypeName) else {
                    throw .unsupported(path: mpath, detail: "\(chunkKey).\(key) has dtype \(t.dtypeName)")
                }
                guard Self.sizeIsSane(t.shape, dtype) else {
                    throw .badTensor(path: mpath, tensor: prefix + key, detail: "shape \(t.shape) is not a tensor size")
                }
                let k = TensorKey.model(name)
                guard index[k] == nil else { throw .malformed(path: mpath, detail: "\(chunkKey) holds \(local) twice (as \(key))") }
                index[k] = (0, t)
                listed.append(ContainerTensor(key: k, dtype: dtype, shape: t.shape))
                params.append(MegatronParamGroups.Param(name: name, shape: t.shape, dtype: dtype))
            }
            chunks.append(params)
        }
        let params = chunks.flatMap { $0 }
        naming = teNames || args.transformerImpl == "transformer_engine" ? .transformerEngine : .local
        if !extra.isEmpty {
            notes.append("\(extra.count) _extra_state entries (\(Self.kinds(extra.map(\.1)))) kept opaque in the metadata, not as tensors")
        }

        var optimizer = MegatronOptimizerState()
        if let o = root["optimizer"] {
            optimizer = try MegatronOptimizerState.fromModelFile(o, params: params, path: mpath)
        } else {
            notes.append("no optimizer state (saved with --no-save-optim)")
        }
        if optimizer.form == "distributed" {
            guard let d = distributed else {
                throw .malformed(path: mpath, detail: "the distributed optimizer's tensors live in distrib_optim.pt, which is missing")
            }
            let shared = Self.sharedEmbedding(args: args, file: file, params: params)
            try optimizer.addDistributed(
                root: d.root, chunks: chunks, sharedEmbedding: shared, settings: try args.bufferSettings, ppRank: file.ppRank, path: d.path)
        } else if let d = distributed {
            throw .malformed(path: d.path, detail: "distrib_optim.pt present but model_optim_rng.pt holds a non-distributed optimizer")
        }
        for p in params {
            guard let states = optimizer.tensors[p.name] else { continue }
            for s in ["exp_avg", "exp_avg_sq", "master"] {
                guard let (archive, t) = states[s] else { continue }
                let k = TensorKey.optimizer(s, p.name)
                index[k] = (archive.rawValue, t)
                listed.append(ContainerTensor(key: k, dtype: .float32, shape: t.shape))
            }
        }
        optimizerForm = optimizer.form
        paramGroups = optimizer.paramGroups

        var sources: [any TorchPickleSource] = [model]
        if let d = distributed { sources.append(d) }
        self.sources = sources
        self.index = index
        self.tensors = listed
        let state = try MegatronTorchState(root: top, extraState: extra, optimizer: optimizer, source: model, notes: &notes)
        self.state = state
        self.notes = notes
    }

    /// Opens rank directory `directory` (its `model_optim_rng.pt`, and `distrib_optim.pt` when
    /// present) as rank `file`, reading the archives with `TorchArchive`.
    public convenience init(directory: String, file: ShardFile) throws(ContainerError) {
        let fm = FileManager.default
        let model = directory + "/" + MegatronTorchDirectory.modelFile
        guard fm.fileExists(atPath: model) else { throw .malformed(path: directory, detail: "no \(MegatronTorchDirectory.modelFile)") }
        let dist = directory + "/" + MegatronTorchDirectory.distributedOptimizerFile
        let d: TorchArchive? = fm.fileExists(atPath: dist) ? try TorchArchive(path: dist) : nil
        try self.init(path: directory, file: file, model: try TorchArchive(path: model), distributed: d)
    }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? {
        guard let (_, t) = index[key], let d = TorchDTypeName.dtype(t.dtypeName) else { return nil }
        return ContainerTensor(key: key, dtype: d, shape: t.shape)
    }

    /// Reads `box` of `key` from its archive.
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let (s, t) = index[key] else { throw .noSuchTensor(path: path, tensor: key.description) }
        try sources[s].read(t, box: box, into: buffer, name: key.description)
    }

    /// The tied embedding and output layer megatron-core marks `shared_embedding` (PP > 1 only):
    /// the embedding on the first stage, the output layer on the last (in the first and the
    /// last model chunk with a virtual pipeline, `LanguageModule.setup_embeddings_and_output_layer`).
    static func sharedEmbedding(args: MegatronArgs, file: ShardFile, params: [MegatronParamGroups.Param]) -> Set<String> {
        let shape = args.shape
        guard shape.pp > 1, (try? args.reader.flag("untie_embeddings_and_output_weights")) == false else { return [] }
        var out = Set<String>()
        if file.ppRank == 0 { out.insert(MegatronNaming.chunkPrefix(0, of: shape.vpp) + "embedding.word_embeddings.weight") }
        if file.ppRank == shape.pp - 1 { out.insert(MegatronNaming.chunkPrefix(shape.vpp - 1, of: shape.vpp) + "output_layer.weight") }
        return out.intersection(params.map(\.name))
    }

    /// The keys of the model state dicts of a rank file: `model`, or with a virtual pipeline of
    /// `vpp` chunks exactly `model0` ... `model{vpp-1}` (`generate_state_dict`).
    static func chunkKeys(_ top: [PickleDictEntry], vpp: Int, path: String) throws(ContainerError) -> [String] {
        let present = top.compactMap { e -> String? in
            guard case .string(let k) = e.key, k.hasPrefix("model"), k == "model" || Int(k.dropFirst(5)) != nil else { return nil }
            return k
        }
        // Counted first: the args' size is untrusted and allocates nothing before it matches.
        let expected = present.count != vpp ? [] : vpp == 1 ? ["model"] : (0..<vpp).map { "model\($0)" }
        guard !expected.isEmpty, Set(present) == Set(expected), present.count == expected.count else {
            let found = present.isEmpty ? "no model state dict" : present.sorted().prefix(4).joined(separator: ", ")
            throw .malformed(
                path: path,
                detail:
                    "holds \(found) but args.virtual_pipeline_model_parallel_size makes \(vpp) model chunk\(vpp == 1 ? " (model)" : "s (model0 ... model\(vpp - 1))")"
            )
        }
        return expected
    }

    /// Non-negative dimensions whose byte count fits comfortably in an `Int`.
    static func sizeIsSane(_ shape: [Int], _ dtype: DType) -> Bool {
        var n = dtype.size
        for d in shape {
            let (m, o) = n.multipliedReportingOverflow(by: d)
            if d < 0 || o || m >= 1 << 56 { return false }
            n = m
        }
        return true
    }

    private static func kinds(_ values: [PickleValue]) -> String {
        var seen: [String] = []
        for v in values {
            let k: String
            switch v {
            case .none: k = "None"
            case .tensor: k = "Tensor"
            case .object(let o): k = o.type.name
            default: k = "other"
            }
            if !seen.contains(k) { seen.append(k) }
        }
        return seen.joined(separator: ", ")
    }
}
