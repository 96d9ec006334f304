import ArgumentParser
import CheckpointStore
import Foundation
import Sharding

/// `ckpt ls`: one row per tensor (per rank file for a Megatron directory).
struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List tensors: name, dtype, shape, raw bytes, stored bytes, ratio.",
        discussion: """
            For a Megatron checkpoint directory every rank file's tensors are listed, with a rank column \
            (tp<t>pp<p>, the form get --rank takes).

            Example:
              ckpt ls model.h5
              ckpt ls megatron-ckpt/ --json
            """)

    @Argument(help: "Checkpoint file or Megatron checkpoint directory.") var file: String
    @Flag(help: "Print JSON.") var json = false

    struct Row: Encodable {
        var rank: String?
        var name: String
        var dtype: String
        var shape: [Int]
        var rawBytes: Int
        var storedBytes: Int
        var ratio: Double
        var chunks: [Int]?
        var codec: String
        enum CodingKeys: String, CodingKey {
            case rank, name, dtype, shape, ratio, chunks, codec
            case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
        }
        // Written out so that an absent rank or chunk shape is `null`, not a missing key.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rank, forKey: .rank)
            try c.encode(name, forKey: .name)
            try c.encode(dtype, forKey: .dtype)
            try c.encode(shape, forKey: .shape)
            try c.encode(rawBytes, forKey: .rawBytes)
            try c.encode(storedBytes, forKey: .storedBytes)
            try c.encode(ratio, forKey: .ratio)
            try c.encode(chunks, forKey: .chunks)
            try c.encode(codec, forKey: .codec)
        }
    }

    struct Listing: Encodable {
        var path: String
        var tensors: [Row]
    }

    func run() throws {
        var rows: [Row] = []
        func list(_ path: String, rank: String?) throws {
            let r = try CheckpointReader(path: path)
            rows += r.tensors.map {
                Row(
                    rank: rank, name: $0.key.description, dtype: $0.dtype.rawValue, shape: $0.shape, rawBytes: $0.rawBytes,
                    storedBytes: $0.storedBytes, ratio: $0.ratio, chunks: $0.chunkShape, codec: $0.codec)
            }
        }
        let ranked: Bool
        switch try CheckpointInput.open(file) {
        case .file(let p):
            try list(p, rank: nil)
            ranked = false
        case .megatron(_, let ranks):
            for r in ranks {
                guard FileManager.default.fileExists(atPath: r.path) else { throw ShardingError.missingRank(path: r.path, rank: r.file.description) }
                try list(r.path, rank: r.label)
            }
            ranked = true
        case .foreign(let f):
            for (label, c) in f.files {
                rows += c.tensors.map {
                    Row(
                        rank: label, name: $0.key.description, dtype: $0.dtype.rawValue, shape: $0.shape, rawBytes: $0.byteCount,
                        storedBytes: $0.byteCount, ratio: 1, chunks: nil, codec: "none")
                }
            }
            ranked = f.files.contains { $0.label != nil }
        }
        if json {
            print(JSONDocument.text(Listing(path: file, tensors: rows)))
            return
        }
        let width = max(4, rows.map(\.name.count).max() ?? 4)
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, n - s.count))
            return left ? p + s : s + p
        }
        let rankWidth = max(4, rows.compactMap { $0.rank?.count }.max() ?? 4)
        let rankHeader = ranked ? pad("rank", rankWidth) + "  " : ""
        print(
            rankHeader + pad("name", width) + "  " + pad("dtype", 8) + "  " + pad("shape", 16) + "  " + pad("raw", 12, left: true)
                + "  " + pad("stored", 12, left: true) + "  " + pad("ratio", 6, left: true))
        for row in rows {
            let shape = "[" + row.shape.map(String.init).joined(separator: ", ") + "]"
            print(
                (ranked ? pad(row.rank ?? "", rankWidth) + "  " : "") + pad(row.name, width) + "  " + pad(row.dtype, 8) + "  "
                    + pad(shape, 16) + "  " + pad(String(row.rawBytes), 12, left: true) + "  "
                    + pad(String(row.storedBytes), 12, left: true) + "  " + pad(String(format: "%.3f", row.ratio), 6, left: true))
        }
    }
}
