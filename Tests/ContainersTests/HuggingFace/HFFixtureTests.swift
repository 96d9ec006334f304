import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Directories written by transformers 5.24 `save_pretrained` (single file and sharded, GPT-2
/// and LLaMA with GQA; Tests/Fixtures/interop, made by tools/ with the real libraries): every
/// tensor ckpt reads has the xxh3_64 of the tensor transformers holds in memory, and config.json
/// maps to the model_config recorded beside it.
@Suite(.enabled(if: InteropFixtures.hfAvailable, "Tests/Fixtures/interop/hf-* (from the fixtures branch) are not in this checkout"))
struct HFFixtureTests {
    static let root = InteropFixtures.root
    static let names = InteropFixtures.hfNames

    struct Expected {
        var tensors: [String: (dtype: String, shape: [Int], xxh3: String)]
        var model: ModelConfig
        var notes: [String]
    }

    static func expected(_ name: String) throws -> Expected {
        let bytes = try SmallFile.read(root + "/" + name + "/expected.json", maxBytes: 1 << 24)
        let o = try #require(try JSONValue.parse(bytes).objectValue)
        var tensors: [String: (String, [Int], String)] = [:]
        for (k, v) in try #require(o["tensors"]?.objectValue).members {
            let t = try #require(v.objectValue)
            tensors[k] = (
                try #require(t["dtype"]?.stringValue), try #require(t["shape"]?.arrayValue).compactMap(\.intValue), try #require(t["xxh3_64"]?.stringValue)
            )
        }
        let mc = try JSONDecoder().decode(ModelConfig.self, from: Data(JSONText.compact(try #require(o["model_config"])).utf8))
        return Expected(tensors: tensors, model: mc, notes: (o["notes"]?.arrayValue ?? []).compactMap(\.stringValue))
    }

    func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    @Test(arguments: names)
    func everyTensorMatchesWhatTransformersHolds(name: String) throws {
        let d = try HFCheckpointDirectory(path: Self.root + "/" + name)
        let e = try Self.expected(name)
        #expect(d.weightFiles.count == (name.hasSuffix("-sharded") ? d.index?.files.count : 1))
        #expect(!d.tensors.isEmpty)
        for t in d.tensors {
            let want = try #require(e.tensors[t.key.name], "\(t.key.name) is not a tensor transformers holds")
            #expect(t.dtype == DType(rawValue: want.dtype))
            #expect(t.shape == want.shape)
            let bytes = try d.readAll(t.key)
            #expect(bytes.withUnsafeBytes { hex(XXH3.hash($0)) } == want.xxh3, "\(name): \(t.key.name)")
        }
        // What transformers holds but did not save: only the head tied to the embedding.
        let missing = Set(e.tensors.keys).subtracting(d.tensors.map(\.key.name))
        #expect(missing == (e.model.tieEmbeddings ? ["lm_head.weight"] : []))
    }

    @Test(arguments: names)
    func configMapsToTheRecordedModelConfig(name: String) throws {
        let d = try HFCheckpointDirectory(path: Self.root + "/" + name)
        let c = try d.config.get()
        #expect(c.model == (try Self.expected(name)).model)
        #expect(c.assumed.isEmpty)
    }

    @Test func shardedAndSingleHoldTheSameTensors() throws {
        for family in ["gpt2", "llama"] {
            let single = try HFCheckpointDirectory(path: Self.root + "/hf-" + family)
            let sharded = try HFCheckpointDirectory(path: Self.root + "/hf-" + family + "-sharded")
            #expect(Set(single.tensors) == Set(sharded.tensors))
            #expect(sharded.index?.totalSize == sharded.tensors.reduce(0) { $0 + $1.byteCount })
        }
    }

    @Test(arguments: names)
    func rewritingWithCkptsWriterIsBitExact(name: String) throws {
        // HF → HF through ckpt's writer: same tensors, same bytes, same config mapping; the
        // shard limit of the source's index (or 5 GB) and the same shard count.
        let src = try HFCheckpointDirectory(path: Self.root + "/" + name)
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let limit =
            name.hasSuffix("-sharded")
            ? (src.weightFiles.map { $0.tensors.reduce(0) { $0 + $1.byteCount } }.max() ?? 1) : HFDirectoryWriter.defaultMaxShardBytes
        let w = try HFDirectoryWriter(path: dir + "/out", config: try src.config.get(), manifest: src.tensors, maxShardBytes: limit)
        for t in src.tensors {
            let s = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            try src.readAll(t.key).withUnsafeBytes { try s.append($0) }
            try s.finish()
        }
        try w.commit()
        let back = try HFCheckpointDirectory(path: dir + "/out")
        #expect(back.tensors == src.tensors)
        for t in src.tensors { #expect(try back.readAll(t.key) == src.readAll(t.key)) }
        #expect(try back.config.get().model == src.config.get().model)
        #expect(try back.config.get().dtype == src.config.get().dtype)
        if name.hasSuffix("-sharded") { #expect(back.weightFiles.count >= 2) }
    }
}
