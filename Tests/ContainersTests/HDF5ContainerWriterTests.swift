import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `HDF5ContainerWriter`: ckpt files written through the container protocol, in manifest order,
/// with the metadata given at creation; out-of-order or missing tensors are refused.
@Suite struct HDF5ContainerWriterTests {
    static func temp() throws -> String {
        let p = NSTemporaryDirectory() + "ckpt-h5writer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    static let manifest = [
        ContainerTensor(key: .model("a.weight"), dtype: .float32, shape: [3, 2]),
        ContainerTensor(key: .optimizer("exp_avg", "a.weight"), dtype: .float32, shape: [3, 2]),
        ContainerTensor(key: .model("b"), dtype: .bfloat16, shape: [4]),
    ]

    static func bytes(_ t: ContainerTensor) -> [UInt8] { (0..<t.byteCount).map { UInt8(truncatingIfNeeded: $0 * 13 + t.shape[0]) } }

    @Test func writesTheManifestAndMetadata() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metadata = CheckpointMetadata(step: 7, layoutJSON: #"{"kind":"hf"}"#, userJSON: #"{"x":1}"#)
        let w = try HDF5ContainerWriter(path: dir + "/f.h5", manifest: Self.manifest, metadata: metadata)
        for t in Self.manifest {
            let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let b = Self.bytes(t)
            try b.withUnsafeBytes { try sink.append(UnsafeRawBufferPointer(rebasing: $0[0..<2])) }
            try b.withUnsafeBytes { try sink.append(UnsafeRawBufferPointer(rebasing: $0[2...])) }
            try sink.finish()
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/f.h5"), "nothing before commit")
        try w.commit()
        let c = try HDF5Container(path: dir + "/f.h5")
        #expect(Set(c.tensors) == Set(Self.manifest))
        for t in Self.manifest { #expect(try c.readAll(t.key) == Self.bytes(t)) }
        #expect(c.reader.metadata.step == 7 && c.reader.metadata.layoutKind == "hf" && c.reader.metadata.userJSON == #"{"x":1}"#)
        #expect(c.chunkRows(.model("a.weight")) != nil && c.chunkRows(.model("nope")) == nil)
    }

    @Test func outOfOrderAndIncompleteManifestsAreRefused() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try HDF5ContainerWriter(path: dir + "/f.h5", manifest: Self.manifest, metadata: CheckpointMetadata())
        #expect(throws: ContainerError.self) { _ = try w.beginTensor(.model("b"), dtype: .bfloat16, shape: [4]) }
        #expect(throws: ContainerError.self) { _ = try w.beginTensor(.model("a.weight"), dtype: .float32, shape: [2, 3]) }
        let t = Self.manifest[0]
        let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
        try Self.bytes(t).withUnsafeBytes { try sink.append($0) }
        try sink.finish()
        #expect(
            throws: ContainerError.badTensor(path: dir + "/f.h5", tensor: "optimizer.exp_avg.a.weight", detail: "manifest tensor not written before commit")
        ) {
            try w.commit()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "the temporary is gone")
    }
}
