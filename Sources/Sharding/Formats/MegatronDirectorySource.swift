import CheckpointStore
import Containers
import Foundation

/// Reads a Megatron checkpoint directory — its root with `latest_checkpointed_iteration.txt`,
/// or an `iter_*` / `release` directory — whose rank files are in `ranks`' container format.
///
/// Every rank file of the TP x PP grid the first rank names must be present (and no other rank
/// directory), with the same step, model_config and optimizer as rank tp0/pp0 and a rank
/// layout matching its directory. Files are opened once to check this and closed again except
/// tp0/pp0 (`CheckpointSource` reopens them as needed).
public struct MegatronDirectorySource: SourceFormat {
    /// The rank files' format.
    public let ranks: any MegatronRankFormat
    /// Whether every directory is taken for this format (the last directory format of a
    /// registry: its errors then explain what is missing); otherwise only directories whose
    /// rank directories hold `ranks.rankFile`.
    public let acceptsAnyDirectory: Bool

    /// Creates the source format.
    public init(ranks: any MegatronRankFormat, acceptsAnyDirectory: Bool = false) {
        self.ranks = ranks
        self.acceptsAnyDirectory = acceptsAnyDirectory
    }

    /// `ranks.name`.
    public var name: String { ranks.name }

    /// A directory (any, or one with a rank directory holding `ranks.rankFile`).
    public func recognizes(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return false }
        if acceptsAnyDirectory { return true }
        guard let iter = try? MegatronDirectory.iterationDirectory(of: path) else { return false }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: iter)) ?? []
        return entries.contains {
            MegatronDirectory.parseRankDirectory($0) != nil && FileManager.default.fileExists(atPath: iter + "/" + $0 + "/" + ranks.rankFile)
        }
    }

    /// Opens every rank file and checks them against each other.
    public func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
        let iter = try MegatronDirectory.iterationDirectory(of: path)
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: iter)) ?? []).sorted()
        let rankDirs = entries.filter { MegatronDirectory.parseRankDirectory($0) != nil }
        guard !rankDirs.isEmpty else { throw .notACheckpoint(path: iter, detail: "no mp_rank_* directories") }
        let origin = ShardFile(tpRank: 0, ppRank: 0)
        let firstPath = iter + "/" + rankDirs[0] + "/" + ranks.rankFile
        guard let parsed = MegatronDirectory.parseRankDirectory(rankDirs[0]), parsed.tp == 0, parsed.pp ?? 0 == 0 else {
            throw .missingRank(path: iter + "/mp_rank_00", rank: "tp0/pp0")
        }
        let first = try ranks.openRank(firstPath, rank: origin, checkingMetadata: checkMetadata)
        guard let c = first.metadata.modelConfig else { throw .missingModelConfig(path: firstPath) }
        let shape = first.rankLayout.shape
        try shape.validate(c)
        let expectedNames = Set(shape.files.map { shape.rankDirectoryName($0) })
        for d in rankDirs where !expectedNames.contains(d) { throw .unexpectedRank(path: iter + "/" + d) }

        var paths: [ShardFile: String] = [:]
        var inventories: [ShardFile: [ContainerTensor]] = [:]
        for f in shape.files {
            let p = iter + "/" + shape.rankDirectoryName(f) + "/" + ranks.rankFile
            guard FileManager.default.fileExists(atPath: p) else { throw .missingRank(path: p, rank: f.description) }
            let r = f == origin ? first : try ranks.openRank(p, rank: f, checkingMetadata: checkMetadata)
            let m = r.metadata
            guard let rc = m.modelConfig else { throw .missingModelConfig(path: p) }
            if rc != c { throw .ranksDisagree(path: p, field: "model_config", detail: "\(Self.json(rc)) vs \(Self.json(c))") }
            if m.step != first.metadata.step {
                throw .ranksDisagree(path: p, field: "step", detail: "\(m.step) vs \(first.metadata.step)")
            }
            if m.optimizer != first.metadata.optimizer {
                throw .ranksDisagree(
                    path: p, field: "optimizer", detail: "\(Self.json(m.optimizer)) vs \(Self.json(first.metadata.optimizer))")
            }
            let expected = MegatronRankLayout(shape: shape, file: f, layers: c.layers, vocab: c.vocab)
            if r.rankLayout != expected { throw .badRankLayout(path: p, detail: "found \(r.rankLayout.json), expected \(expected.json)") }
            paths[f] = p
            inventories[f] = r.container.tensors
        }
        let ranks = self.ranks
        let known = paths
        return OpenedSource(
            formatName: name, layout: .megatron(shape), config: c, metadata: first.metadata, paths: paths, inventories: inventories,
            open: [origin: first.container], verifiesChecksums: first.container.verifiesChecksums,
            reopen: { (f: ShardFile) throws(ShardingError) -> any TensorContainer in
                guard let p = known[f] else { throw .missingRank(path: iter, rank: f.description) }
                return try ranks.openRank(p, rank: f, checkingMetadata: false).container
            })
    }

    /// A metadata value as the JSON text it is stored as (`null` when absent), for messages.
    private static func json<T: Encodable>(_ v: T?) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let v, let d = try? e.encode(v) else { return "null" }
        return String(decoding: d, as: UTF8.self)
    }
}
