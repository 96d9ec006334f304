import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt ls`: one row per tensor.
struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List tensors: name, dtype, shape, raw bytes, stored bytes, ratio.")

    @Argument(help: "Checkpoint file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    struct Row: Encodable {
        var name: String
        var dtype: String
        var shape: [Int]
        var rawBytes: Int
        var storedBytes: Int
        var ratio: Double
        var chunks: [Int]?
        var codec: String
        enum CodingKeys: String, CodingKey {
            case name, dtype, shape, ratio, chunks, codec
            case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
        }
    }

    func run() throws {
        let r = try CheckpointReader(path: file)
        let rows = r.tensors.map {
            Row(
                name: $0.key.description, dtype: $0.dtype.rawValue, shape: $0.shape, rawBytes: $0.rawBytes,
                storedBytes: $0.storedBytes, ratio: $0.ratio, chunks: $0.chunkShape, codec: $0.codec)
        }
        if json {
            print(Format.json(rows))
            return
        }
        let width = max(4, rows.map(\.name.count).max() ?? 4)
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, n - s.count))
            return left ? p + s : s + p
        }
        print(
            pad("name", width) + "  " + pad("dtype", 8) + "  " + pad("shape", 16) + "  " + pad("raw", 12, left: true)
                + "  " + pad("stored", 12, left: true) + "  " + pad("ratio", 6, left: true))
        for row in rows {
            let shape = "[" + row.shape.map(String.init).joined(separator: ", ") + "]"
            print(
                pad(row.name, width) + "  " + pad(row.dtype, 8) + "  " + pad(shape, 16) + "  " + pad(String(row.rawBytes), 12, left: true)
                    + "  " + pad(String(row.storedBytes), 12, left: true) + "  " + pad(String(format: "%.3f", row.ratio), 6, left: true))
        }
    }
}
