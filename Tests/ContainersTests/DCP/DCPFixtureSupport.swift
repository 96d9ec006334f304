import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// The DCP fixtures of Tests/Fixtures/interop (tools/make_dcp_fixtures.py, torch 2.13) and
/// their expected.json.
enum DCPFixtures {
    static let names = ["dcp-state-dict", "dcp-zstd"]
    static func path(_ name: String) -> String { InteropFixtures.root + "/" + name }
    static var available: Bool { names.allSatisfy { FileManager.default.fileExists(atPath: path($0) + "/expected.json") } }

    struct Chunk {
        var offsets: [Int]
        var sizes: [Int]
        var file: String
        var offset: Int
        var length: Int
        var transforms: [String]
    }

    struct Tensor {
        var dtype: String
        var shape: [Int]
        var xxh3: String
        var chunks: [Chunk]
    }

    struct Expected {
        var tensors: [String: Tensor]
        var bytesItems: [String: (value: String, xxh3: String, file: String)]
        var canonical: [String: (dtype: String, shape: [Int], xxh3: String)]
        var model: ModelConfig
        var version: String?
    }

    static func ints(_ v: JSONValue?) throws -> [Int] { try #require(v?.arrayValue).compactMap(\.intValue) }

    static func expected(_ name: String) throws -> Expected {
        let o = try #require(try JSONValue.parse(try SmallFile.read(path(name) + "/expected.json", maxBytes: 1 << 24)).objectValue)
        var tensors: [String: Tensor] = [:]
        for (k, v) in try #require(o["tensors"]?.objectValue).members {
            let t = try #require(v.objectValue)
            var chunks: [Chunk] = []
            for c in try #require(t["chunks"]?.arrayValue) {
                let c = try #require(c.objectValue)
                chunks.append(
                    Chunk(
                        offsets: try ints(c["offsets"]), sizes: try ints(c["sizes"]), file: try #require(c["file"]?.stringValue),
                        offset: try #require(c["offset"]?.intValue), length: try #require(c["length"]?.intValue),
                        transforms: try #require(c["transforms"]?.arrayValue).compactMap(\.stringValue)))
            }
            tensors[k] = Tensor(
                dtype: try #require(t["dtype"]?.stringValue), shape: try ints(t["shape"]), xxh3: try #require(t["xxh3_64"]?.stringValue), chunks: chunks)
        }
        var items: [String: (String, String, String)] = [:]
        for (k, v) in try #require(o["bytes_items"]?.objectValue).members {
            let b = try #require(v.objectValue)
            items[k] = (try #require(b["value"]?.stringValue), try #require(b["item_xxh3_64"]?.stringValue), try #require(b["file"]?.stringValue))
        }
        var canonical: [String: (String, [Int], String)] = [:]
        for (k, v) in try #require(o["canonical"]?.objectValue?["model"]?.objectValue).members {
            let t = try #require(v.objectValue)
            canonical[k] = (try #require(t["dtype"]?.stringValue), try ints(t["shape"]), try #require(t["xxh3_64"]?.stringValue))
        }
        let mc = try JSONDecoder().decode(ModelConfig.self, from: Data(JSONText.compact(try #require(o["model_config"])).utf8))
        return Expected(tensors: tensors, bytesItems: items, canonical: canonical, model: mc, version: o["version"]?.stringValue)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let s = String(bytes.withUnsafeBytes { XXH3.hash($0) }, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Copies fixture `name` into a fresh directory (for tests that damage it).
    static func copy(_ name: String, into dir: TestDirectory) throws -> String {
        let dst = dir.file(name)
        try FileManager.default.copyItem(atPath: path(name), toPath: dst)
        return dst
    }
}
