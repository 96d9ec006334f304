import CheckpointStore
import Foundation
import Sharding

/// The checkpoint argument of `info`, `ls`, `verify` and `get`: a checkpoint file, or a Megatron
/// checkpoint directory (its root with `latest_checkpointed_iteration.txt`, or an `iter_*`
/// directory) — the paths `convert` accepts.
enum CheckpointInput {
    /// A checkpoint file.
    case file(String)
    /// A Megatron directory: the path given, and the rank files found in its iteration directory
    /// (ordered by pipeline stage, then tensor rank; a listed file may be missing on disk).
    case megatron(path: String, ranks: [RankFile])
    /// A checkpoint in another format (Hugging Face, Megatron-LM torch, bare safetensors or
    /// `torch.save` files), opened.
    case foreign(ForeignInput)

    /// Classifies `path`: a missing path is a usage error, a directory must be a Megatron
    /// checkpoint directory.
    static func open(_ path: String) throws -> CheckpointInput {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw StoreError.fileNotFound(path: path) }
        if ForeignInput.recognizes(path) { return .foreign(try ForeignInput.open(path)) }
        guard isDir.boolValue else { return .file(path) }
        let iter = try MegatronDirectory.iterationDirectory(of: path)
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: iter)) ?? [])
        var ranks: [RankFile] = []
        for e in entries {
            guard let (tp, pp) = MegatronDirectory.parseRankDirectory(e) else { continue }
            let f = ShardFile(tpRank: tp, ppRank: pp ?? 0)
            ranks.append(RankFile(label: RankFile.label(f), file: f, path: iter + "/" + e + "/" + MegatronDirectory.rankFile))
        }
        guard !ranks.isEmpty else { throw ShardingError.notACheckpoint(path: iter, detail: "no mp_rank_* directories") }
        return .megatron(path: path, ranks: ranks.sorted { $0.file < $1.file })
    }
}
