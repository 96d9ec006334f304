import CheckpointStore
import Containers
import Foundation
import Glibc

/// torchtitan checkpoints (`CheckpointManager.save`: a PyTorch DCP directory `step-N/` of the
/// model's state dict at the top level, `optimizer.*`, `train_state.*`, `lr_scheduler.*`,
/// `dataloader`) as a source of conversions, the `torchtitan` layout
/// (`formats/layouts/torchtitan-llama.json`), Adam state included.
///
/// A DCP checkpoint does not record the architecture; the job config torchtitan writes
/// (`--debug.save_config_file`, `TorchtitanJobConfig`) gives it: `ckpt convert step-1000
/// --model-config job_config.json --to hf --out hf`.
public enum TorchtitanFormats {
    /// The name of the source format.
    public static let name = "torchtitan"

    /// Whether `path` is a plain DCP directory (no Hugging Face `config.json`, no Megatron
    /// `metadata.json`) that is torchtitan's: its `.metadata` names `tok_embeddings.` (any plain
    /// DCP directory when a job config is given).
    public static func recognizes(_ path: String, jobConfigGiven: Bool) -> Bool {
        guard DCPCheckpoint.looksLike(path) else { return false }
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/config.json") || fm.fileExists(atPath: path + "/metadata.json") { return false }
        return jobConfigGiven || mentions(Array("tok_embeddings.".utf8), in: path + "/" + DCPFileName.metadata)
    }

    /// The source format; `jobConfig` is the path of the job config (nil: a torchtitan
    /// checkpoint is recognised and refused, naming `--model-config`).
    public static func source(jobConfig: String? = nil) -> any SourceFormat { TorchtitanSource(jobConfig: jobConfig) }

    /// Whether `file` contains `needle`, read in 1 MiB pieces (at most `DCPLimits`' metadata
    /// bound).
    static func mentions(_ needle: [UInt8], in file: String) -> Bool {
        guard let f = try? RandomAccessFile(path: file) else { return false }
        let size = min(f.size, DCPLimits().maxMetadataBytes)
        let piece = 1 << 20
        var offset = 0
        var carry: [UInt8] = []
        while offset < size {
            guard let bytes = try? f.bytes(at: offset, count: min(piece, size - offset)) else { return false }
            let hay = carry + bytes
            if contains(hay, needle) { return true }
            carry = Array(hay.suffix(needle.count - 1))
            offset += bytes.count
        }
        return false
    }

    /// Whether `hay` contains `needle` (first byte found, then compared with `memcmp`).
    private static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, hay.count >= needle.count else { return needle.isEmpty }
        return hay.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                var i = 0
                while i + n.count <= h.count {
                    if h[i] == first && memcmp(h.baseAddress! + i, n.baseAddress!, n.count) == 0 { return true }
                    i += 1
                }
                return false
            }
        }
    }
}
