import Foundation
import Testing

@testable import CheckpointStore

/// A chunk-index key byte that HDF5 1.10 ignores but HDF5 2.x compares (h5py then reads the
/// chunk as zeros) fails `verify`.
@Suite struct ChunkIndexCheckTests {
    @Test func damagedElementOffsetOfAChunkKeyFailsVerify() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/k.h5"
        let w = try CheckpointWriter(path: p, options: WriterOptions(codec: .zstd(level: 1), chunkBytes: 1024, threads: 1))
        try w.write(.model("w"), shape: [16, 64], floats: (0..<1024).map { Float($0) })
        try w.commit()
        #expect(try CheckpointVerifier().verify(path: p).ok)
        let chunk = try #require(try CheckpointReader(path: p).chunkLocations(.model("w")).first { $0.origin == [4, 0] })
        // The v1 B-tree key of that chunk: size (u32), filter mask (u32), offsets (u64 x rank),
        // element offset (u64, always 0), then the child address (u64).
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        let key = le(UInt64(chunk.size), 4) + le(0, 4) + le(4, 8) + le(0, 8) + le(0, 8) + le(chunk.address, 8)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: p)))
        let i = try #require((0...(d.count - key.count)).first { d[$0..<($0 + key.count)].elementsEqual(key) }, "key not found")
        d[i + 25] ^= 0x80
        try Data(d).write(to: URL(fileURLWithPath: p))
        // ckpt still reads the tensor right (HDF5 1.10 ignores the byte) ...
        let r = try CheckpointReader(path: p)
        #expect(try r.read(.model("w")).floats() == (0..<1024).map { Float($0) })
        // ... but the index is damaged, and verify says so.
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.map(\.check) == ["index"], "\(report.failures)")
        #expect(report.failures.first?.tensor == "w")
        #expect(report.failures.first?.message.contains("non-zero element offset") == true)
    }

    /// The right-bound key of a 1-D tensor's only chunk moved off the chunk grid (h5py linked
    /// against HDF5 2.x then fails with "bad coordinate offset"; HDF5 1.10 reads on).
    @Test func rightBoundKeyOffTheChunkGridFailsVerify() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/b.h5"
        let w = try CheckpointWriter(path: p, options: WriterOptions(codec: .none, chunkBytes: 1024, threads: 1))
        try w.write(.model("b"), shape: [64], floats: (0..<64).map { Float($0) })
        try w.commit()
        let chunk = try #require(try CheckpointReader(path: p).chunkLocations(.model("b")).first)
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        // key 0 (size, mask, offset 0, element offset 0), child address, then key 1 (offset 64).
        let node = le(UInt64(chunk.size), 4) + le(0, 4) + le(0, 8) + le(0, 8) + le(chunk.address, 8)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: p)))
        let i = try #require((0...(d.count - node.count)).first { d[$0..<($0 + node.count)].elementsEqual(node) }, "node not found")
        #expect(d[i + node.count + 8] == 64)
        d[i + node.count + 8] = 68
        try Data(d).write(to: URL(fileURLWithPath: p))
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.map(\.check) == ["index"], "\(report.failures)")
        #expect(report.failures.first?.message.contains("offset 68 in dimension 0 does not fit chunks of 64 in 64") == true)
    }
}
