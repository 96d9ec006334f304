import CheckpointStore
import Containers
import Foundation

/// A Megatron-LM `torch`-format checkpoint directory: the tracker
/// `latest_checkpointed_iteration.txt` (an iteration or `release`), the iteration directory
/// `iter_{it:07d}/` (or `release/`) and one `mp_rank_TT[_PPP]/` per (TP, PP) rank, each opened as
/// a `MegatronTorchRank`.
///
/// Opening checks that the rank set is exactly the TP x PP grid of the args, that every rank
/// holds the same args (except the per-process `rank` / `local_rank`), iteration and shared
/// state, and reads the architecture and optimizer. Virtual pipeline checkpoints hold one state
/// dict per model chunk in each rank file (`model0`, `model1`, ...; see `MegatronTorchRank`);
/// expert-parallel ranks (`mp_rank_TT_PPP_EEE`) are refused.
public final class MegatronTorchDirectory: Sendable {
    /// The checkpoint file of each rank directory.
    public static let modelFile = "model_optim_rng.pt"
    /// The distributed optimizer's file beside it.
    public static let distributedOptimizerFile = "distrib_optim.pt"

    /// The directory given.
    public let path: String
    /// The iteration directory read.
    public let iterationDirectory: String
    /// Whether it is a `release` checkpoint (iteration 0 for Megatron).
    public let release: Bool
    /// The ranks.
    public let ranks: [ShardFile: MegatronTorchRank]
    /// The parallel shape (from the args).
    public let shape: MegatronShape
    /// Rank tp0/pp0's args.
    public let args: MegatronArgs
    /// The architecture.
    public let modelConfig: ModelConfig
    /// Where `modelConfig.vocab` came from.
    public let vocabSource: MegatronVocabSource
    /// The optimizer, or nil when no rank saved optimizer state.
    public let optimizerConfig: OptimizerConfig?
    /// Checkpoint metadata for ckpt: step = iteration, model_config, optimizer, and the
    /// non-tensor Megatron state under the `megatron` key of `userJSON` (see
    /// `MegatronTorchMetadata`).
    public let metadata: CheckpointMetadata
    /// What was kept opaque, dropped or assumed, one line each (rank notes prefixed by the rank).
    public let notes: [String]

    /// Opens `path`: a checkpoint root holding the tracker, or an `iter_*` / `release`
    /// directory. `vocab` is the unpadded vocabulary if the caller knows it (see
    /// `MegatronArgs.vocab(requested:)`). `open` decodes one `.pt` file.
    public init(path: String, vocab: Int? = nil, open: (String) throws(ContainerError) -> any TorchPickleSource) throws(ContainerError) {
        self.path = path
        let (iter, release) = try Self.iterationDirectory(of: path)
        iterationDirectory = iter
        self.release = release
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: iter)) ?? []).filter { $0.hasPrefix("mp_rank_") }.sorted()
        guard !entries.isEmpty else { throw .malformed(path: iter, detail: "no mp_rank_* directories") }
        var found: [ShardFile: String] = [:]
        var piped: Bool?
        for e in entries {
            guard let (t, p) = MegatronDirectory.parseRankDirectory(e) else {
                throw .unsupported(
                    path: iter + "/" + e, detail: "rank directory name not understood (expert-parallel ranks mp_rank_TT_PPP_EEE are not supported)")
            }
            if let piped, piped != (p != nil) {
                throw .malformed(path: iter + "/" + e, detail: "rank directories mix the mp_rank_TT and mp_rank_TT_PPP forms")
            }
            piped = p != nil
            found[ShardFile(tpRank: t, ppRank: p ?? 0)] = iter + "/" + e
        }
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        guard let firstDir = found[origin] else { throw .malformed(path: iter, detail: "no rank tp0/pp0 directory") }
        let first = try Self.openRank(firstDir, file: origin, open: open)
        let shape = first.args.shape
        self.shape = shape
        self.args = first.args
        if (shape.pp > 1) != (piped ?? false) {
            throw .malformed(path: iter, detail: "rank directory names do not match pipeline_model_parallel_size \(shape.pp)")
        }
        for (f, d) in found where f.tpRank >= shape.tp || f.ppRank >= shape.pp {
            throw .malformed(path: d, detail: "rank \(f) lies outside the args' TP \(shape.tp) x PP \(shape.pp) grid")
        }
        var ranks: [ShardFile: MegatronTorchRank] = [origin: first]
        var notes = first.notes.map { "tp0/pp0: " + $0 }
        for f in shape.files where f != origin {
            guard let d = found[f] else { throw .malformed(path: iter, detail: "rank \(f) (\(shape.rankDirectoryName(f))) is missing") }
            let r = try Self.openRank(d, file: f, open: open)
            try Self.checkAgreement(r, with: first)
            ranks[f] = r
            notes += r.notes.map { "\(f): " + $0 }
        }
        self.ranks = ranks
        let (v, source) = try first.args.vocab(requested: vocab)
        vocabSource = source
        modelConfig = try first.args.modelConfig(vocab: v)
        if source == .padded {
            notes.append(
                "the unpadded vocabulary is not recorded (args.padded_vocab_size = \(first.args.paddedVocab)); the padding rows are kept as vocabulary rows: pass the tokenizer's size to drop them"
            )
        }
        let withOptimizer = ranks.values.filter { $0.optimizerForm != "none" }
        if !withOptimizer.isEmpty && withOptimizer.count != ranks.count {
            throw .malformed(path: iter, detail: "some ranks hold optimizer state and some do not")
        }
        optimizerConfig = withOptimizer.isEmpty ? nil : try first.args.optimizerConfig(paramGroups: first.paramGroups)
        self.notes = notes
        let blob = MegatronTorchMetadata(shape: shape, dataParallel: first.args.dataParallel, ranks: ranks)
        metadata = CheckpointMetadata(
            step: first.iteration, modelConfig: modelConfig, optimizer: optimizerConfig, userJSON: blob.userJSON)
    }

    /// Where rank `file`'s `model_optim_rng.pt` goes, relative to the checkpoint root:
    /// `iter_{step:07d}/mp_rank_TT[_PPP]/model_optim_rng.pt` (the tracker file beside
    /// `iter_*` is `MegatronDirectory.trackerFile`, holding the step).
    public static func relativeModelPath(of file: ShardFile, shape: MegatronShape, step: Int64) -> String {
        "\(MegatronDirectory.iterationDirectory(step: step))/\(shape.rankDirectoryName(file))/\(modelFile)"
    }

    /// Opens `path` reading every `.pt` file as a `TorchArchive` (see
    /// `init(path:vocab:open:)`).
    public convenience init(path: String, vocab: Int? = nil) throws(ContainerError) {
        try self.init(path: path, vocab: vocab) { (p: String) throws(ContainerError) -> any TorchPickleSource in try TorchArchive(path: p) }
    }

    /// Whether `path` looks like a Megatron `torch`-format checkpoint (a tracker or an
    /// iteration directory whose `mp_rank_*` directories hold `model_optim_rng.pt`).
    public static func isMegatronTorch(_ path: String) -> Bool {
        guard let (iter, _) = try? iterationDirectory(of: path),
            let entries = try? FileManager.default.contentsOfDirectory(atPath: iter)
        else { return false }
        return entries.contains { $0.hasPrefix("mp_rank_") && FileManager.default.fileExists(atPath: iter + "/" + $0 + "/" + modelFile) }
    }

    /// The iteration directory of `path` and whether it is a release checkpoint.
    public static func iterationDirectory(of path: String) throws(ContainerError) -> (String, Bool) {
        let fm = FileManager.default
        let tracker = path + "/" + MegatronDirectory.trackerFile
        if fm.fileExists(atPath: tracker) {
            guard let data = fm.contents(atPath: tracker), data.count < 4096 else {
                throw .io(path: tracker, detail: "cannot read the tracker file")
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let dir: String
            let release: Bool
            if value == "release" {
                dir = path + "/release"
                release = true
            } else if let it = Int64(value), it >= 0 {
                dir = path + "/" + MegatronDirectory.iterationDirectory(step: it)
                release = false
            } else {
                throw .malformed(path: tracker, detail: "tracker holds '\(value.prefix(40))', neither an iteration nor 'release'")
            }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw .malformed(path: dir, detail: "the tracker names '\(value)' but its directory is missing")
            }
            return (dir, release)
        }
        let last = URL(fileURLWithPath: path).lastPathComponent
        if last.hasPrefix("iter_") || last == "release" { return (path, last == "release") }
        throw .malformed(path: path, detail: "no \(MegatronDirectory.trackerFile) and not an iter_* or release directory")
    }

    private static func openRank(_ dir: String, file: ShardFile, open: (String) throws(ContainerError) -> any TorchPickleSource) throws(ContainerError)
        -> MegatronTorchRank
    {
        let fm = FileManager.default
        let model = dir + "/" + modelFile
        guard fm.fileExists(atPath: model) else { throw .malformed(path: dir, detail: "no \(modelFile)") }
        let dist = dir + "/" + distributedOptimizerFile
        let d: (any TorchPickleSource)? = fm.fileExists(atPath: dist) ? try open(dist) : nil
        return try MegatronTorchRank(path: dir, file: file, model: try open(model), distributed: d)
    }

    private static func checkAgreement(_ r: MegatronTorchRank, with first: MegatronTorchRank) throws(ContainerError) {
        let skip = MegatronTorchState.rankSpecificArgs
        let a = r.args.attributes.filter { if case .string(let k) = $0.key { return !skip.contains(k) } else { return true } }
        let b = first.args.attributes.filter { if case .string(let k) = $0.key { return !skip.contains(k) } else { return true } }
        if a != b {
            let names = Set(a.map(\.key)).union(b.map(\.key))
            let differing = names.compactMap { k -> String? in
                let x = a.last { $0.key == k }?.value, y = b.last { $0.key == k }?.value
                guard x != y, case .string(let s) = k else { return nil }
                return s
            }.sorted()
            throw .malformed(path: r.path, detail: "args differ from rank tp0/pp0 in \(differing.prefix(5).joined(separator: ", "))")
        }
        if r.iteration != first.iteration {
            throw .malformed(path: r.path, detail: "iteration \(r.iteration) differs from rank tp0/pp0's \(first.iteration)")
        }
        if r.state.comparableCommon != first.state.comparableCommon {
            throw .malformed(path: r.path, detail: "checkpoint state (scheduler, version, counters) differs from rank tp0/pp0")
        }
    }
}
