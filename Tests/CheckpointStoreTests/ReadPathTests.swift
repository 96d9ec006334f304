import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// The read path over every frame kind a file can hold: float chunks as literal-only frames (the
/// writer's default since format 8.3), as LZ frames (every file written before, and what
/// `ZSTD_compressCCtx` at level 1 makes), and both within one dataset; and the in-order consumer
/// that checksums and scans the output while it is in cache.
@Suite struct ReadPathTests {
    static let chunkBytes = 1 << 20
    static let shape = [700, 1024]  // fp32: 3 chunks of 256 rows, the last an edge chunk

    /// A committed checkpoint with one fp32 tensor of `shape` and its bytes.
    func writeFile(_ path: String) throws -> [UInt8] {
        let bytes = CodecDataSet.fp32Normal.bytes(elements: Self.shape.reduce(1, *), seed: 11)
        let w = try CheckpointWriter(path: path, options: WriterOptions(chunkBytes: Self.chunkBytes, threads: 2))
        try w.write(.model("w"), TensorData(dtype: .float32, shape: Self.shape, bytes: bytes))
        try w.commit()
        return bytes
    }

    /// Replaces the stored chunks `indices` of /model/w with LZ frames (shuffle, ZSTD_compressCCtx
    /// level 1, Fletcher32), the encoding of files written before literal-only frames.
    func rewriteAsLZ(_ path: String, _ bytes: [UInt8], chunks indices: [Int]) throws {
        var lz = ChunkEncoder(zstdLevel: 1, elementSize: 4)
        lz.frames = .lz
        let rows = Self.chunkBytes / (4 * Self.shape[1])
        HDF5Library.prepareThread()
        try HDF5Library.serialized { () throws in
            let f = H5Fopen(path, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
            try #require(f >= 0)
            defer { H5Fclose(f) }
            let ds = H5Dopen2(f, TensorKey.model("w").datasetPath, ckpt_H5P_DEFAULT())
            try #require(ds >= 0)
            defer { H5Dclose(ds) }
            for i in indices {
                let start = i * Self.chunkBytes
                let valid = min(Self.chunkBytes, bytes.count - start)
                let raw = Array(bytes[start..<(start + valid)]) + [UInt8](repeating: 0, count: Self.chunkBytes - valid)
                let out = try #require(encodeChunk(raw, valid: valid, lz))
                let size = out.count
                let offset: [hsize_t] = [hsize_t(i * rows), 0]
                try #require(H5Dwrite_chunk(ds, ckpt_H5P_DEFAULT(), 0, offset, size, out) >= 0)
            }
        }
    }

    /// Whether each stored chunk of /model/w is a literal-only frame.
    func literalOnly(_ path: String) throws -> [Bool] {
        try StoredFrameTests().storedFrames(path, TensorKey.model("w").datasetPath).map { try ZstdFrameWalker($0).isLiteralOnly }
    }

    @Test(arguments: [[0, 1, 2], [1], [0, 2]])
    func lzAndMixedFramesRead(lzChunks: [Int]) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        let bytes = try writeFile(p)
        #expect(try literalOnly(p) == [true, true, true])
        try rewriteAsLZ(p, bytes, chunks: lzChunks)
        #expect(try literalOnly(p) == (0..<3).map { !lzChunks.contains($0) }, "the file holds the frames the case names")
        let r = try CheckpointReader(path: p)
        #expect(try r.read(.model("w")).bytes == bytes)  // also checks the tensor's xxh3_64
        let rows = try r.read(.model("w"), selection: [.range(200..<600), .all(1024)])
        #expect(rows.bytes[...] == bytes[(200 * 4096)..<(600 * 4096)])
        var v = CheckpointVerifier()
        v.blockBytes = 300 * 4096  // several blocks per tensor: the streamed hash
        let report = try v.verify(path: p)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.bytesChecked == bytes.count)
    }

    /// A damaged LZ chunk is named, as a damaged literal one is.
    @Test func damagedLZChunkIsReported() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        let bytes = try writeFile(p)
        try rewriteAsLZ(p, bytes, chunks: [1])
        let frame = try StoredFrameTests().storedFrames(p, TensorKey.model("w").datasetPath)[1]
        // Flip a byte in the middle of chunk 1's stored frame, found by its first 64 bytes (its
        // header and the compressed exponent plane; the raw planes also occur in the chunk's
        // abandoned literal-only frame).
        var file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: p)))
        let probe = Array(frame.prefix(64))
        let starts = (0..<(file.count - 64)).filter { file[$0] == probe[0] && Array(file[$0..<($0 + 64)]) == probe }
        try #require(starts.count == 1)
        file[starts[0] + frame.count / 2] ^= 0x40
        try Data(file).write(to: URL(fileURLWithPath: p))
        #expect(try StoredFrameTests().storedFrames(p, TensorKey.model("w").datasetPath)[1] != frame)
        let r = try CheckpointReader(path: p)
        #expect(throws: StoreError.self) { _ = try r.read(.model("w")) }
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.contains { $0.tensor == "w" && $0.message.contains("chunk at [256, 0]") }, "\(report.failures)")
    }

    /// The consumer sees every output byte once, in order: inline for in-order reads (whole
    /// tensors, ranges of rows of row chunks), after the read otherwise.
    @Test func consumerSeesTheOutputInOrder() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        let bytes = CodecDataSet.fp32Normal.bytes(elements: 700 * 1024, seed: 5)
        let flat = CodecDataSet.fp32Normal.bytes(elements: 3 * 300_000, seed: 6)
        let w = try CheckpointWriter(path: p, options: WriterOptions(chunkBytes: Self.chunkBytes, threads: 2))
        try w.write(.model("rows"), TensorData(dtype: .float32, shape: [700, 1024], bytes: bytes))
        try w.write(.model("flat"), TensorData(dtype: .float32, shape: [3, 300_000], bytes: flat))
        try w.commit()
        let r = try CheckpointReader(path: p)
        let cases: [(String, [DimSelection]?, ArraySlice<UInt8>, Bool)] = [
            ("rows", nil, bytes[...], true),
            ("rows", [.range(100..<650), .all(1024)], bytes[(100 * 4096)..<(650 * 4096)], true),
            ("rows", [.range(256..<512), .all(1024)], bytes[(256 * 4096)..<(512 * 4096)], true),
            ("flat", nil, flat[...], true),
            // Chunks of [1, 262144] do not span the rows: consumed after the read.
            ("flat", [.range(1..<3), .all(300_000)], flat[(1_200_000)...], false),
            ("rows", [.range(0..<700), .range(0..<10)], ArraySlice((0..<700).flatMap { bytes[($0 * 4096)..<($0 * 4096 + 40)] }), false),
        ]
        for (name, sel, expected, inOrder) in cases {
            let layout = ChunkLayout(shape: try r.info(.model(name)).shape, elementSize: 4, chunkBytes: Self.chunkBytes)
            let full = try sel ?? r.info(.model(name)).shape.map { DimSelection.all($0) }
            #expect(DatasetReadEngine.completesInOrder(layout, full) == inOrder, "\(name) \(String(describing: sel))")
            let seen = Collected()
            var out = [UInt8](repeating: 0, count: expected.count)
            try out.withUnsafeMutableBytes { try r.read(.model(name), selection: sel, into: $0, consumer: { seen.append($0) }) }
            #expect(out[...] == expected, "\(name) \(String(describing: sel))")
            #expect(seen.bytes[...] == expected, "\(name) \(String(describing: sel)): consumed \(seen.bytes.count) of \(expected.count) bytes")
            if inOrder && expected.count > Self.chunkBytes { #expect(seen.pieces > 1, "\(name): consumed while decoding") }
        }
    }
}
