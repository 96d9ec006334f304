import CheckpointStore
import Foundation

/// An opened source checkpoint: a wafer file or every rank file of a Megatron directory, with
/// the rank files' metadata checked against each other.
///
/// At most `maxOpenReaders` files are open at once (least recently used closed first): a reader
/// keeps decoding buffers for as long as it is open, so with hundreds of rank files memory would
/// otherwise grow with the rank count.
public final class CheckpointSource: @unchecked Sendable {
    /// The path given (file or directory).
    public let path: String
    /// The layout found.
    public let layout: CheckpointLayout
    /// The model configuration (identical in every rank file).
    public let config: ModelConfig
    /// The metadata of the wafer file or of rank tp0/pp0.
    public let metadata: CheckpointMetadata
    /// The path of each file.
    public let paths: [ShardFile: String]
    /// The tensors of each file, as listed when the source was opened.
    public let inventories: [ShardFile: [TensorInfo]]
    /// Files kept open at most.
    public let maxOpenReaders: Int

    // `@unchecked Sendable`: readers are thread-safe; the open set is guarded by `lock`.
    private let lock = NSLock()
    private var open: [ShardFile: (reader: CheckpointReader, lastUse: Int)] = [:]
    private var clock = 0

    /// Opens `path`: a checkpoint file in the wafer layout, or a Megatron checkpoint directory
    /// (its root with `latest_checkpointed_iteration.txt`, or an `iter_*` directory). Each
    /// file's metadata checksum is checked unless `checkMetadata` is false (a caller that
    /// verifies every file itself, as `ckpt verify` does in its child processes).
    public init(path: String, maxOpenReaders: Int = 8, checkMetadata: Bool = true) throws(ShardingError) {
        self.path = path
        self.maxOpenReaders = max(1, maxOpenReaders)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .io(path: path, detail: "no such file or directory")
        }
        if !isDir.boolValue {
            let r = try Self.open(path, checkingMetadata: checkMetadata)
            guard r.metadata.layoutKind == "wafer" else {
                throw .notACheckpoint(
                    path: path, detail: "layout is '\(r.metadata.layoutKind)'; pass the Megatron checkpoint directory, not one rank file")
            }
            guard let c = r.metadata.modelConfig else { throw .missingModelConfig(path: path) }
            layout = .wafer
            config = c
            metadata = r.metadata
            paths = [.wafer: path]
            inventories = [.wafer: r.tensors]
            open = [.wafer: (r, 0)]
            return
        }
        let iter = try MegatronDirectory.iterationDirectory(of: path)
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: iter)) ?? []).sorted()
        let rankDirs = entries.filter { MegatronDirectory.parseRankDirectory($0) != nil }
        guard !rankDirs.isEmpty else { throw .notACheckpoint(path: iter, detail: "no mp_rank_* directories") }
        let firstPath = iter + "/" + rankDirs[0] + "/" + MegatronDirectory.rankFile
        guard let parsed = MegatronDirectory.parseRankDirectory(rankDirs[0]), parsed.tp == 0, parsed.pp ?? 0 == 0 else {
            throw .missingRank(path: iter + "/mp_rank_00", rank: "tp0/pp0")
        }
        let first = try Self.open(firstPath, checkingMetadata: checkMetadata)
        guard let c = first.metadata.modelConfig else { throw .missingModelConfig(path: firstPath) }
        let firstLayout = try MegatronRankLayout.parse(first.metadata.layoutJSON, path: firstPath)
        let shape = firstLayout.shape
        try shape.validate(c)
        let expectedNames = Set(shape.files.map { shape.rankDirectoryName($0) })
        for d in rankDirs where !expectedNames.contains(d) { throw .unexpectedRank(path: iter + "/" + d) }

        var paths: [ShardFile: String] = [:]
        var inventories: [ShardFile: [TensorInfo]] = [:]
        for f in shape.files {
            let p = iter + "/" + shape.rankDirectoryName(f) + "/" + MegatronDirectory.rankFile
            guard FileManager.default.fileExists(atPath: p) else { throw .missingRank(path: p, rank: f.description) }
            let r = f == ShardFile(tpRank: 0, ppRank: 0) ? first : try Self.open(p, checkingMetadata: checkMetadata)
            let m = r.metadata
            guard let rc = m.modelConfig else { throw .missingModelConfig(path: p) }
            if rc != c { throw .ranksDisagree(path: p, field: "model_config", detail: "\(Self.json(rc)) vs \(Self.json(c))") }
            if m.step != first.metadata.step {
                throw .ranksDisagree(path: p, field: "step", detail: "\(m.step) vs \(first.metadata.step)")
            }
            if m.optimizer != first.metadata.optimizer {
                throw .ranksDisagree(
                    path: p, field: "optimizer",
                    detail: "\(Self.json(m.optimizer)) vs \(Self.json(first.metadata.optimizer))")
            }
            let l = try MegatronRankLayout.parse(m.layoutJSON, path: p)
            let expected = MegatronRankLayout(shape: shape, file: f, layers: c.layers, vocab: c.vocab)
            if l != expected { throw .badRankLayout(path: p, detail: "found \(l.json), expected \(expected.json)") }
            paths[f] = p
            inventories[f] = r.tensors
        }
        layout = .megatron(shape)
        config = c
        metadata = first.metadata
        self.paths = paths
        self.inventories = inventories
        open = [ShardFile(tpRank: 0, ppRank: 0): (first, 0)]
    }

    /// The path of `file` (a file of this source).
    public func path(_ file: ShardFile) -> String { paths[file] ?? path }

    /// A reader of `file`, opening it (and closing the least recently used one) when needed.
    public func reader(_ file: ShardFile) throws(ShardingError) -> CheckpointReader {
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if let o = open[file] {
            open[file] = (o.reader, clock)
            return o.reader
        }
        guard let p = paths[file] else { throw .missingRank(path: path, rank: file.description) }
        while open.count >= maxOpenReaders, let victim = open.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            open[victim] = nil
        }
        let r = try Self.open(p)
        open[file] = (r, clock)
        return r
    }

    /// A metadata value as the JSON text it is stored as (`null` when absent), for messages.
    private static func json<T: Encodable>(_ v: T?) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let v, let d = try? e.encode(v) else { return "null" }
        return String(decoding: d, as: UTF8.self)
    }

    /// Opens one file; when opening the source, its metadata checksum is checked too (the files
    /// reopened later are the same ones).
    private static func open(_ p: String, checkingMetadata: Bool = false) throws(ShardingError) -> CheckpointReader {
        do {
            let r = try CheckpointReader(path: p)
            if checkingMetadata { try r.requireIntactMetadata() }
            return r
        } catch { throw .store(error) }
    }
}
