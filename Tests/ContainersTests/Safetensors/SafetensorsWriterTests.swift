import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// The writer's header, streaming checks and atomic publishing.
@Suite struct SafetensorsWriterTests {
    static let manifest = [
        ContainerTensor(key: .model("w"), dtype: .float32, shape: [3, 2]),
        ContainerTensor(key: .model("b"), dtype: .bfloat16, shape: [3]),
        ContainerTensor(key: .model("empty"), dtype: .int64, shape: [0, 5]),
        ContainerTensor(key: .model("s"), dtype: .int8, shape: []),
        ContainerTensor(key: .model("ünï \"q\""), dtype: .bool, shape: [2]),
    ]

    /// Deterministic bytes for tensor `i`.
    static func bytes(_ t: ContainerTensor, seed: Int) -> [UInt8] {
        (0..<t.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) }
    }

    static func write(_ manifest: [ContainerTensor], to path: String, chunk: Int = 5) throws {
        let w = try SafetensorsWriter(path: path, manifest: manifest)
        for (i, t) in manifest.enumerated() {
            let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let b = bytes(t, seed: i)
            var at = 0
            while at < b.count {
                let n = min(chunk, b.count - at)
                try b[at..<(at + n)].withUnsafeBytes { try sink.append($0) }
                at += n
            }
            try sink.finish()
        }
        try w.commit()
    }

    @Test func roundTripIsBitExact() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let p = dir + "/out.safetensors"
        try Self.write(Self.manifest, to: p)
        #expect(TestDirectory.list(dir) == ["out.safetensors"])
        let f = try SafetensorsFile(path: p)
        #expect(f.tensors == Self.manifest)
        #expect(f.metadata == ["format": "pt"])
        for (i, t) in Self.manifest.enumerated() { #expect(try f.readAll(t.key) == Self.bytes(t, seed: i), "\(t.key)") }
        #expect(f.header.headerLength % 8 == 0)
        let raw = try TestDirectory.read(p)
        #expect(raw.count == 8 + f.header.headerLength + 24 + 6 + 1 + 2)
        #expect(raw[8..<(8 + f.header.headerLength)].last == UInt8(ascii: " ") || f.header.headerLength % 8 == 0)
    }

    @Test func headerIsCompactPaddedWithSpacesAndInManifestOrder() throws {
        let h = try SafetensorsWriter.header(
            manifest: [ContainerTensor(key: .model("x"), dtype: .float16, shape: [2]), ContainerTensor(key: .model("a"), dtype: .uint8, shape: [1])],
            metadata: ["format": "pt"], path: "p")
        let text = String(decoding: h[8...], as: UTF8.self)
        #expect(
            text
                == #"{"__metadata__":{"format":"pt"},"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}"#
                + "       ")
        #expect(h[0..<8] == [144, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func nothingAppearsBeforeCommitAndAbortRemovesTheTemporary() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let p = dir + "/out.safetensors"
        let w = try SafetensorsWriter(path: p, manifest: Self.manifest)
        #expect(TestDirectory.list(dir).count == 1)
        #expect(!SmallFile.exists(p))
        #expect(TemporaryRegistry.registered.contains(w.temporaryPath))
        w.abort()
        #expect(TestDirectory.list(dir).isEmpty)
        #expect(!TemporaryRegistry.registered.contains(w.temporaryPath))
    }

    @Test func releasingAnUncommittedWriterRemovesTheTemporary() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        do { _ = try SafetensorsWriter(path: dir + "/o.safetensors", manifest: Self.manifest) }
        #expect(TestDirectory.list(dir).isEmpty)
    }

    @Test func outOfOrderTensorIsRefusedAndTheFileIsDropped() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let w = try SafetensorsWriter(path: dir + "/o.safetensors", manifest: Self.manifest)
        #expect(throws: ContainerError.badTensor(path: w.path, tensor: "b", detail: "out of order: the manifest has tensor w next")) {
            _ = try w.beginTensor(.model("b"), dtype: .bfloat16, shape: [3])
        }
        #expect(TestDirectory.list(dir).isEmpty)
        let e = ContainerError.badTensor(path: w.path, tensor: "b", detail: "out of order: the manifest has tensor w next")
        #expect(throws: ContainerError.io(path: w.path, detail: "writer stopped after an earlier error: \(e)")) { try w.commit() }
        let w2 = try SafetensorsWriter(path: dir + "/o.safetensors", manifest: Self.manifest)
        #expect(throws: ContainerError.badTensor(path: w.path, tensor: "w", detail: "is float32 [2, 3], but the manifest says float32 [3, 2]")) {
            _ = try w2.beginTensor(.model("w"), dtype: .float32, shape: [2, 3])
        }
    }

    @Test func tooManyOrTooFewBytesAreRefusedAndTheFileIsDropped() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let p = dir + "/o.safetensors"
        let w = try SafetensorsWriter(path: p, manifest: Self.manifest)
        let s = try w.beginTensor(.model("w"), dtype: .float32, shape: [3, 2])
        let big = [UInt8](repeating: 1, count: 25)
        #expect(throws: ContainerError.badTensor(path: p, tensor: "w", detail: "25 bytes appended, but the tensor holds 24")) {
            try big.withUnsafeBytes { try s.append($0) }
        }
        #expect(TestDirectory.list(dir).isEmpty)
        #expect(throws: ContainerError.self) { try w.commit() }

        let w2 = try SafetensorsWriter(path: p, manifest: Self.manifest)
        let s2 = try w2.beginTensor(.model("w"), dtype: .float32, shape: [3, 2])
        try big[0..<20].withUnsafeBytes { try s2.append($0) }
        #expect(throws: ContainerError.badTensor(path: p, tensor: "w", detail: "finished after 20 of its 24 bytes")) { try s2.finish() }
        #expect(TestDirectory.list(dir).isEmpty)
    }

    @Test func commitBeforeEveryTensorIsWrittenIsRefused() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let w = try SafetensorsWriter(path: dir + "/o.safetensors", manifest: Self.manifest)
        #expect(throws: ContainerError.badTensor(path: w.path, tensor: "w", detail: "in the manifest but never written")) { try w.commit() }
        #expect(TestDirectory.list(dir).isEmpty)
    }

    @Test func openTensorMustBeFinishedFirst() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let w = try SafetensorsWriter(path: dir + "/o.safetensors", manifest: Self.manifest)
        _ = try w.beginTensor(.model("w"), dtype: .float32, shape: [3, 2])
        #expect(throws: ContainerError.badTensor(path: w.path, tensor: "b", detail: "tensor w is still open; finish it first")) {
            _ = try w.beginTensor(.model("b"), dtype: .bfloat16, shape: [3])
        }
    }

    @Test(arguments: [
        (
            [ContainerTensor(key: .optimizer("exp_avg", "w"), dtype: .float32, shape: [1])],
            ContainerError.unsupported(path: "o", detail: "tensor optimizer.exp_avg.w: safetensors holds model tensors only, not section optimizer/exp_avg")
        ),
        (
            [ContainerTensor(key: .model("w"), dtype: .float32, shape: [1]), ContainerTensor(key: .model("w"), dtype: .float32, shape: [1])],
            .badTensor(path: "o", tensor: "w", detail: "listed twice in the manifest")
        ),
        (
            [ContainerTensor(key: .model("__metadata__"), dtype: .float32, shape: [1])],
            .badTensor(path: "o", tensor: "__metadata__", detail: "not a valid safetensors tensor name")
        ),
        ([ContainerTensor(key: .model("w"), dtype: .float32, shape: [-1])], .badTensor(path: "o", tensor: "w", detail: "negative dimension in shape [-1]")),
        (
            [ContainerTensor(key: .model("w"), dtype: .float32, shape: [1 << 62, 4])],
            .badTensor(path: "o", tensor: "w", detail: "shape [4611686018427387904, 4] is too large")
        ),
    ])
    func invalidManifests(manifest: [ContainerTensor], error: ContainerError) {
        #expect(throws: error) { _ = try SafetensorsWriter.header(manifest: manifest, metadata: [:], path: "o") }
    }

    @Test func existingFileIsKeptWithoutOverwrite() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let p = dir + "/o.safetensors"
        try TestDirectory.write([1, 2, 3], to: p)
        let w = try SafetensorsWriter(path: p, manifest: [], overwrite: false)
        #expect(throws: ContainerError.store(.outputExists(path: p))) { try w.commit() }
        #expect(try TestDirectory.read(p) == [1, 2, 3])
        #expect(TestDirectory.list(dir) == ["o.safetensors"])
        try Self.write([], to: p)  // overwrite: true by default
        #expect(try SafetensorsFile(path: p).tensors.isEmpty)
    }

    @Test func writerOutputPassesTheValidator() throws {
        // Many tensors of every dtype: the header the writer makes is one the reader accepts.
        let manifest = DType.allCases.enumerated().map { i, d in ContainerTensor(key: .model("t.\(i)"), dtype: d, shape: [i % 3, 2, i + 1]) }
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        try Self.write(manifest, to: dir + "/a.safetensors", chunk: 3)
        let f = try SafetensorsFile(path: dir + "/a.safetensors")
        #expect(f.tensors == manifest)
    }
}
