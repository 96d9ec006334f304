import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Shard planning, the written directory, and atomic publishing.
@Suite struct HFDirectoryWriterTests {
    typealias F = HFDirectoryFixtures
    static let model = ModelConfig(family: "gpt2", layers: 2, hidden: 8, heads: 2, vocab: 11, maxSeq: 6)

    func u8(_ name: String, _ n: Int) -> ContainerTensor { ContainerTensor(key: .model(name), dtype: .uint8, shape: [n]) }

    @Test func planIsGreedyInManifestOrder() throws {
        let m = [u8("a", 4), u8("b", 4), u8("c", 3), u8("d", 10), u8("e", 2), u8("f", 8), u8("g", 1)]
        let p = try HFShardPlan(manifest: m, maxShardBytes: 8, path: "o")
        // a+b fill 8; c starts; d (10 > 8) gets its own shard; e starts; f would exceed; g joins f.
        #expect(p.shards == [[0, 1], [2], [3], [4], [5], [6]] || p.shards == [[0, 1], [2], [3], [4], [5, 6]])
        #expect(p.shards == [[0, 1], [2], [3], [4], [5], [6]])
        #expect(p.fileNames.first == "model-00001-of-00006.safetensors" && p.fileNames.last == "model-00006-of-00006.safetensors")
        #expect(p.shardOf == [0, 0, 1, 2, 3, 4, 5])
        #expect(p.totalBytes == 32 && p.totalParameters == 32)
    }

    @Test func planPacksUpToTheLimitInclusive() throws {
        let p = try HFShardPlan(manifest: [u8("a", 3), u8("b", 5), u8("c", 5), u8("d", 3)], maxShardBytes: 8, path: "o")
        #expect(p.shards == [[0, 1], [2, 3]])
    }

    @Test func oneShardIsModelSafetensors() throws {
        let p = try HFShardPlan(manifest: [u8("a", 3), u8("b", 5)], maxShardBytes: HFDirectoryWriter.defaultMaxShardBytes, path: "o")
        #expect(p.fileNames == ["model.safetensors"])
        #expect(try HFShardPlan(manifest: [], maxShardBytes: 1, path: "o").fileNames == ["model.safetensors"])
        #expect(HFDirectoryWriter.defaultMaxShardBytes == 5_000_000_000)
        #expect(throws: ContainerError.unsupported(path: "o", detail: "maximum shard size must be positive (got 0)")) {
            _ = try HFShardPlan(manifest: [], maxShardBytes: 0, path: "o")
        }
    }

    @Test func shardNamesHaveFiveDigitsAtLeast() {
        #expect(HFShardPlan.shardName(3, of: 12) == "model-00003-of-00012.safetensors")
        #expect(HFShardPlan.shardName(7, of: 123_456) == "model-00007-of-123456.safetensors")
    }

    @Test func shardedRoundTripIsBitExact() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let out = dir + "/hf"
        let manifest = F.gpt2Manifest()
        let w = try HFDirectoryWriter(path: out, model: Self.model, manifest: manifest, maxShardBytes: 1000)
        try F.fill(w, manifest)
        #expect(TestDirectory.list(dir) == ["hf"])
        let files = TestDirectory.list(out)
        #expect(files.contains("config.json") && files.contains("model.safetensors.index.json"))
        let shards = files.filter { $0.hasPrefix("model-") }
        #expect(shards.count == w.plan.fileNames.count && shards.count > 2)
        let d = try HFCheckpointDirectory(path: out)
        #expect(Set(d.tensors) == Set(manifest))
        for t in manifest { #expect(try d.readAll(t.key) == F.bytes(t), "\(t.key)") }
        let config = try d.config.get()
        #expect(config.model == Self.model)
        #expect(config.dtype == .float32)
        // Each shard holds at most 1000 tensor bytes unless it holds one tensor.
        for f in d.weightFiles {
            let bytes = f.tensors.reduce(0) { $0 + $1.byteCount }
            #expect(bytes <= 1000 || f.tensors.count == 1)
        }
    }

    @Test func indexTextIsTransformersLayout() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let manifest = [u8("z.w", 5), u8("a.w", 5)]
        let w = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, maxShardBytes: 5)
        try F.fill(w, manifest)
        let text = String(decoding: try TestDirectory.read(dir + "/o/model.safetensors.index.json"), as: UTF8.self)
        #expect(
            text == """
                {
                  "metadata": {
                    "total_parameters": 10,
                    "total_size": 10
                  },
                  "weight_map": {
                    "a.w": "model-00002-of-00002.safetensors",
                    "z.w": "model-00001-of-00002.safetensors"
                  }
                }

                """)
        let st = try SafetensorsFile(path: dir + "/o/model-00001-of-00002.safetensors")
        #expect(st.metadata == ["format": "pt"])
    }

    @Test func singleShardHasNoIndex() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let manifest = F.gpt2Manifest()
        try F.fill(try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest), manifest)
        #expect(TestDirectory.list(dir + "/o") == ["config.json", "model.safetensors"])
        #expect(try HFCheckpointDirectory(path: dir + "/o").tensors == manifest)
    }

    @Test func atMostOneShardIsOpenAndNothingIsPublishedEarly() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let manifest = [u8("a", 4), u8("b", 4), u8("c", 4)]
        let w = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, maxShardBytes: 4)
        for (i, t) in manifest.enumerated() {
            let s = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let names = TestDirectory.list(w.temporaryPath)
            // The shards before this one are published inside the temporary directory; this one
            // is still a temporary file; nothing else.
            #expect(names.filter { $0.contains(".tmp-") }.count == 1)
            #expect(names.filter { !$0.contains(".tmp-") } == Array(w.plan.fileNames[0..<i]))
            try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try s.append($0) }
            try s.finish()
            #expect(!SmallFile.exists(dir + "/o"))
        }
        try w.commit()
        #expect(TestDirectory.list(dir) == ["o"])
        #expect(!TemporaryRegistry.registered.contains(w.temporaryPath))
    }

    @Test func abortAndErrorsLeaveNothing() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let manifest = [u8("a", 4), u8("b", 4)]
        let w = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, maxShardBytes: 4)
        _ = try w.beginTensor(.model("a"), dtype: .uint8, shape: [4])
        w.abort()
        #expect(TestDirectory.list(dir).isEmpty)

        let w2 = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, maxShardBytes: 4)
        #expect(throws: ContainerError.badTensor(path: dir + "/o", tensor: "b", detail: "out of order: the manifest has tensor a next")) {
            _ = try w2.beginTensor(.model("b"), dtype: .uint8, shape: [4])
        }
        let w3 = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, maxShardBytes: 4)
        let s = try w3.beginTensor(.model("a"), dtype: .uint8, shape: [4])
        try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try s.append($0) }
        // The next shard cannot open while tensor a is short of bytes.
        #expect(
            throws: ContainerError.badTensor(
                path: w3.temporaryPath + "/model-00001-of-00002.safetensors", tensor: "a", detail: "was not finished before commit")
        ) {
            _ = try w3.beginTensor(.model("b"), dtype: .uint8, shape: [4])
        }
        #expect(throws: ContainerError.io(path: dir + "/o", detail: "writer already committed or aborted")) { try w3.commit() }
        do { _ = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest) }
        #expect(TestDirectory.list(dir).isEmpty)
    }

    @Test func existingTargetIsRefusedUnlessReplacing() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/o", withIntermediateDirectories: false)
        try F.writeText("old", to: dir + "/o/old.txt")
        let manifest = [u8("a", 4)]
        #expect(throws: ContainerError.store(.outputExists(path: dir + "/o"))) {
            _ = try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest)
        }
        try F.fill(try HFDirectoryWriter(path: dir + "/o", model: Self.model, manifest: manifest, replace: true), manifest)
        #expect(TestDirectory.list(dir + "/o") == ["config.json", "model.safetensors"])
        #expect(TestDirectory.list(dir) == ["o"])
    }

    @Test func optimizerStateIsRefused() throws {
        let m = [u8("a", 1), ContainerTensor(key: .optimizer("exp_avg", "a"), dtype: .float32, shape: [1])]
        #expect(
            throws: ContainerError.unsupported(
                path: "/nonexistent/o", detail: "tensor optimizer.exp_avg.a: Hugging Face checkpoints hold model tensors only (drop optimizer state first)")
        ) { _ = try HFDirectoryWriter(path: "/nonexistent/o", model: Self.model, manifest: m) }
    }

    @Test func configDtypeIsTheDominantFloatType() {
        let m = [
            ContainerTensor(key: .model("a"), dtype: .bfloat16, shape: [100]), ContainerTensor(key: .model("b"), dtype: .float32, shape: [10]),
            ContainerTensor(key: .model("c"), dtype: .int64, shape: [1000]),
        ]
        #expect(HFDirectoryWriter.dominantFloatType(m) == .bfloat16)
        #expect(HFDirectoryWriter.dominantFloatType([m[2]]) == nil)
    }
}
