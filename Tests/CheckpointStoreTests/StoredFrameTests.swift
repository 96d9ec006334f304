import CHDF5
import CZstd
import Foundation
import Testing

@testable import CheckpointStore

/// What the writers put in the file under `zstd:1`: literal-only frames for float tensors, LZ
/// frames for integers, bools and data where the first chunk says LZ wins; every chunk of a
/// tensor encoded the same way; and stock h5py + hdf5plugin reading it all bit-exactly.
@Suite struct StoredFrameTests {
    /// The stored chunks of dataset `path` in `file`, in chunk-index order, with the Fletcher32
    /// trailer removed when `fletcher32`.
    func storedFrames(_ file: String, _ path: String, fletcher32: Bool = true) throws -> [[UInt8]] {
        HDF5Library.prepareThread()
        return try HDF5Library.serialized { () throws -> [[UInt8]] in
            let f = H5Fopen(file, ckpt_H5F_ACC_RDONLY(), ckpt_H5P_DEFAULT())
            try #require(f >= 0)
            defer { H5Fclose(f) }
            let ds = H5Dopen2(f, path, ckpt_H5P_DEFAULT())
            try #require(ds >= 0, "\(path)")
            defer { H5Dclose(ds) }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            var count: hsize_t = 0
            H5Dget_num_chunks(ds, space, &count)
            var frames: [[UInt8]] = []
            for i in 0..<count {
                var offset = [hsize_t](repeating: 0, count: rank)
                var mask: UInt32 = 0
                var addr: haddr_t = 0
                var size: hsize_t = 0
                try #require(H5Dget_chunk_info(ds, space, i, &offset, &mask, &addr, &size) >= 0)
                var bytes = [UInt8](repeating: 0, count: Int(size))
                try #require(H5Dread_chunk(ds, ckpt_H5P_DEFAULT(), offset, &mask, &bytes) >= 0)
                #expect(mask == 0)
                frames.append(fletcher32 ? Array(bytes.dropLast(4)) : bytes)
            }
            return frames
        }
    }

    /// The frame `encoder` makes of one raw chunk whose first `valid` bytes hold data (Fletcher32 off).
    func reference(_ raw: ArraySlice<UInt8>, valid: Int, _ encoder: ChunkEncoder) -> [UInt8] {
        var e = encoder
        e.fletcher32 = false
        return encodeChunk(Array(raw), valid: valid, e) ?? []
    }

    /// Tensors of one row-chunked file: (name, dtype, shape, bytes, expected frames).
    struct Case {
        var name: String
        var dtype: DType
        var shape: [Int]
        var bytes: [UInt8]
        var frames: ZstdFrames
    }

    static func cases() -> [Case] {
        func floats(_ set: CodecDataSet, _ n: Int) -> [UInt8] { set.bytes(elements: n, seed: 3) }
        let f32 = floats(.fp32Normal, 700 * 1024)
        let asDouble = stride(from: 0, to: 60_000 * 4, by: 4).flatMap { i -> [UInt8] in
            let v = Double(Float(bitPattern: UInt32(f32[i]) | UInt32(f32[i + 1]) << 8 | UInt32(f32[i + 2]) << 16 | UInt32(f32[i + 3]) << 24))
            return withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }
        }
        let asHalf = stride(from: 0, to: 5000 * 4, by: 4).flatMap { i -> [UInt8] in
            let v = Float(bitPattern: UInt32(f32[i]) | UInt32(f32[i + 1]) << 8 | UInt32(f32[i + 2]) << 16 | UInt32(f32[i + 3]) << 24)
            let h = HalfPrecision.f16Bits(from: v)
            return [UInt8(truncatingIfNeeded: h), UInt8(truncatingIfNeeded: h >> 8)]
        }
        let ints = (0..<(300 * 1024)).flatMap { i -> [UInt8] in withUnsafeBytes(of: Int32((i * 7919) % 50_021 - 25_000).littleEndian) { Array($0) } }
        return [
            Case(name: "w.fp32", dtype: .float32, shape: [700, 1024], bytes: f32, frames: .literal),  // 3 chunks, the last an edge
            Case(name: "w.bf16", dtype: .bfloat16, shape: [1500, 1000], bytes: floats(.bf16Normal, 1_500_000), frames: .literal),
            Case(name: "w.fp16", dtype: .float16, shape: [5000], bytes: asHalf, frames: .literal),
            Case(name: "w.fp64", dtype: .float64, shape: [200, 300], bytes: asDouble, frames: .literal),
            Case(name: "m.exp_avg_sq_like", dtype: .float32, shape: [512, 2048], bytes: floats(.expAvgSq, 512 * 2048), frames: .lz),
            Case(name: "i.int32", dtype: .int32, shape: [300, 1024], bytes: ints, frames: .lz),
            Case(name: "i.bool", dtype: .bool, shape: [4096], bytes: (0..<4096).map { UInt8(($0 / 3) & 1) }, frames: .lz),
        ]
    }

    @Test func checkpointWriterEncodesFloatsLiteralOnlyAndTheRestLZ() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        let chunkBytes = 1 << 20
        let w = try CheckpointWriter(path: p, options: WriterOptions(chunkBytes: chunkBytes, threads: 2))
        let cases = Self.cases()
        for c in cases { try w.write(.model(c.name), TensorData(dtype: c.dtype, shape: c.shape, bytes: c.bytes)) }
        try w.commit()

        do {
            let r = try CheckpointReader(path: p)
            for c in cases {
                #expect(try r.read(.model(c.name)).bytes == c.bytes, "\(c.name) reads back")
                #expect(try r.info(.model(c.name)).codec == "zstd:1")
            }
        }
        for c in cases {
            let layout = ChunkLayout(shape: c.shape, elementSize: c.dtype.size, chunkBytes: chunkBytes)
            let chunk = layout.chunkElements * c.dtype.size
            var padded = c.bytes
            padded += [UInt8](repeating: 0, count: (chunk - c.bytes.count % chunk) % chunk)
            let frames = try storedFrames(p, TensorKey.model(c.name).datasetPath)
            #expect(frames.count == padded.count / chunk, "\(c.name)")
            var expected = ChunkEncoder(zstdLevel: 1, elementSize: c.dtype.size)
            expected.frames = c.frames
            for (i, frame) in frames.enumerated() {
                let walk = try ZstdFrameWalker(frame)
                #expect(walk.contentSize == chunk, "\(c.name) chunk \(i)")
                if c.frames == .literal { #expect(walk.singleSegment, "\(c.name) chunk \(i)") }
                // The independent walker, so a silent fallback to LZ fails here.
                #expect(walk.isLiteralOnly == (c.frames == .literal), "\(c.name) chunk \(i): literal-only \(walk.isLiteralOnly)")
                let valid = min(chunk, c.bytes.count - i * chunk)
                #expect(frame == reference(padded[(i * chunk)..<((i + 1) * chunk)], valid: valid, expected), "\(c.name) chunk \(i)")
            }
        }

        // Stock h5py + hdf5plugin read every tensor through filter 32015 and find the xxh3_64
        // ckpt computed from the input bytes.
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let (status, output) = try python(["\(repo)/tools/crosscheck.py", "check", p, "--chunk-bytes", "\(chunkBytes)"])
        #expect(status == 0 && output.contains(" 0 failed"), "crosscheck (run tools/setup.sh for h5py, hdf5plugin, xxhash): \(output)")
    }

    @Test func datasetFileWriterPicksFramesByTheValuesItHolds() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/f.h5"
        let bf16 = CodecDataSet.bf16Normal.bytes(elements: 600 * 1024)
        let w = try HDF5DatasetFileWriter(path: p, chunkBytes: 1 << 20, threads: 2)
        // bf16 carried as int16 (what cstorch writes) is float data; plain int16 is not.
        for (name, values) in [("as_bf16", DType.bfloat16), ("as_int16", nil)] as [(String, DType?)] {
            let s = try w.beginDataset(name, dtype: .int16, shape: [600, 1024], filters: .zstd(level: 1), values: values)
            try withBytes(bf16) { (b) throws(StoreError) in try s.append(b) }
            try s.finish()
        }
        try w.commit()
        let literal = try storedFrames(p, "as_bf16", fletcher32: false)
        let lz = try storedFrames(p, "as_int16", fletcher32: false)
        #expect(literal.count == 2 && lz.count == 2)
        #expect(try literal.allSatisfy { try ZstdFrameWalker($0).isLiteralOnly })
        #expect(try lz.allSatisfy { try !ZstdFrameWalker($0).isLiteralOnly })
        #expect(literal.map(\.count).reduce(0, +) < lz.map(\.count).reduce(0, +), "\(literal.map(\.count)) \(lz.map(\.count))")
    }

    /// Runs `python3` (from PATH, as the CLI cross-checks do) and returns its status and output.
    func python(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
