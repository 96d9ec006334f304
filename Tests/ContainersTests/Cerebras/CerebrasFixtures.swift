import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// The `.mdl` fixtures cerebras-pytorch 2.10 wrote (tools/make_cerebras_fixtures.py) and what
/// their expected.json records about them.
enum CerebrasFixtures {
    /// `cerebras-gpt2`, `cerebras-llama`, `cerebras-misc`.
    static let names = ["cerebras-gpt2", "cerebras-llama", "cerebras-misc"]
    /// The Model Zoo models.
    static let models = ["cerebras-gpt2", "cerebras-llama"]

    /// Whether the fixtures are in this checkout.
    static var available: Bool { names.allSatisfy { FileManager.default.fileExists(atPath: InteropFixtures.root + "/" + $0 + "/expected.json") } }

    /// The expected.json of `name`.
    static func expected(_ name: String) throws -> JSONObject {
        let bytes = try SmallFile.read(InteropFixtures.root + "/" + name + "/expected.json", maxBytes: 1 << 24)
        return try #require(try JSONValue.parse(bytes).objectValue)
    }

    /// The `.mdl` file of `name`.
    static func file(_ name: String) throws -> String {
        InteropFixtures.root + "/" + name + "/" + (try #require(try expected(name)["file"]?.stringValue))
    }

    /// (dtype, shape, xxh3) of each tensor the library held, by flattened key.
    static func tensors(_ name: String) throws -> [String: (dtype: String, shape: [Int], xxh3: String)] {
        var out: [String: (String, [Int], String)] = [:]
        for (k, v) in try #require(try expected(name)["tensors"]?.objectValue).members {
            let t = try #require(v.objectValue)
            out[k] = (
                try #require(t["dtype"]?.stringValue), try #require(t["shape"]?.arrayValue).compactMap(\.intValue),
                try #require(t["xxh3_64"]?.stringValue)
            )
        }
        return out
    }

    /// 16 hex digits.
    static func hex(_ bytes: [UInt8]) -> String {
        let v = bytes.withUnsafeBytes { XXH3.hash($0) }
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
