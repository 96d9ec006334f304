import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

@Suite struct ErrorTests {
    func writeSample(_ path: String, rows: Int = 512) throws -> [UInt8] {
        let w = try CheckpointWriter(path: path, options: WriterOptions(chunkBytes: 64 << 10))
        w.metadata.modelConfig = ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 16, maxSeq: 4)
        let b = sampleBytes(.float32, count: rows * 256, seed: 9)
        try b.withUnsafeBytes { try w.write(.model("big.weight"), dtype: .float32, shape: [rows, 256], bytes: $0) }
        try w.commit()
        return b
    }

    @Test func missingFile() {
        #expect(throws: StoreError.fileNotFound(path: "/nonexistent/x.h5")) { try CheckpointReader(path: "/nonexistent/x.h5") }
    }

    @Test func notHDF5() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/junk.h5"
        FileManager.default.createFile(atPath: p, contents: Data(randomBytes(10_000, seed: 1)))
        #expect(throws: StoreError.notHDF5(path: p)) { try CheckpointReader(path: p) }
    }

    @Test func truncatedFile() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/t.h5"
        _ = try writeSample(p)
        let size = try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int
        truncate(p, off_t(size / 2))
        do {
            let r = try CheckpointReader(path: p)
            _ = try r.read(.model("big.weight"))
            Issue.record("a truncated file read without error")
        } catch {
            #expect(error.description.contains(p))
        }
    }

    @Test func flippedByteInsideCompressedChunkIsCaught() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/f.h5"
        let original = try writeSample(p)
        let chunks = try CheckpointReader(path: p).chunkLocations(.model("big.weight"))
        #expect(chunks.count == 8)
        let victim = chunks[3]
        let fd = open(p, O_RDWR)
        var byte: UInt8 = 0
        pread(fd, &byte, 1, off_t(victim.address) + off_t(victim.size / 2))
        byte ^= 0x10
        pwrite(fd, &byte, 1, off_t(victim.address) + off_t(victim.size / 2))
        close(fd)
        let r = try CheckpointReader(path: p)
        #expect {
            try r.read(.model("big.weight"))
        } throws: { e in
            guard case .corruptChunk(let path, let tensor, let detail) = e as! StoreError else { return false }
            return path == p && tensor == "big.weight" && detail.contains("\(victim.origin)") && detail.contains("Fletcher32")
        }
        // Rows outside the damaged chunk still read; rows inside do not.
        let ok = try r.read(.model("big.weight"), rows: 0..<64)
        #expect(ok.bytes == Array(original[0..<(64 * 256 * 4)]))
        #expect(throws: StoreError.self) { try r.read(.model("big.weight"), rows: 200..<201) }
        let report = try CheckpointVerifier().verify(path: p)
        #expect(!report.ok)
        #expect(report.failures.filter { $0.check == "chunk" }.map(\.tensor) == ["big.weight"])
    }

    @Test func checksumMismatchIsReported() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/c.h5"
        _ = try writeSample(p)
        HDF5Library.prepareThread()
        let f = H5Fopen(p, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
        let d = H5Dopen2(f, "/model/big/weight", ckpt_H5P_DEFAULT())
        H5Attributes.writeUInt64(d, "xxh3_64", 12345)
        H5Dclose(d)
        H5Fclose(f)
        let r = try CheckpointReader(path: p)
        #expect {
            try r.read(.model("big.weight"))
        } throws: { e in
            if case .checksumMismatch(_, "big.weight", 12345, _) = e as! StoreError { return true }
            return false
        }
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.first?.check == "checksum")
    }

    @Test func unknownFilterIsNamed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/u.h5"
        _ = try writeSample(p)
        HDF5Library.prepareThread()
        let f = H5Fopen(p, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
        let dims: [hsize_t] = [16]
        let space = H5Screate_simple(1, dims, dims)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        H5Pset_chunk(dcpl, 1, dims)
        H5Pset_filter(dcpl, 32001, ckpt_H5Z_FLAG_OPTIONAL(), 0, nil)  // blosc: not registered here
        let d = H5Dcreate2(f, "/model/blosc", ckpt_H5T_IEEE_F32LE(), space, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
        let junk = randomBytes(40, seed: 5)
        var off: [hsize_t] = [0]
        junk.withUnsafeBytes { _ = H5Dwrite_chunk(d, ckpt_H5P_DEFAULT(), 0, &off, 40, $0.baseAddress) }
        H5Dclose(d)
        H5Pclose(dcpl)
        H5Sclose(space)
        H5Fclose(f)
        let r = try CheckpointReader(path: p)
        #expect {
            try r.read(.model("blosc"))
        } throws: { e in
            (e as! StoreError).description.contains("32001") && (e as! StoreError).description.contains("blosc")
        }
    }

    @Test func shapeContradictingConfigFailsVerification() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/s.h5"
        let cfg = ModelConfig.preset(family: "gpt2", name: "tiny")!
        let w = try CheckpointWriter(path: p)
        w.metadata.modelConfig = cfg
        for (name, shape) in cfg.canonicalTensors() {
            let s = name == "layers.1.mlp.up.weight" ? [shape[0] + 1, shape[1]] : shape
            try w.write(.model(name), shape: s, floats: [Float](repeating: 0.5, count: s.reduce(1, *)))
        }
        try w.commit()
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.tensor == "layers.1.mlp.up.weight")
        #expect(report.failures.first?.check == "shape")
    }

    @Test func nonFiniteValuesFailVerification() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/n.h5"
        let w = try CheckpointWriter(path: p)
        try w.write(.model("x"), shape: [3], floats: [1, .nan, .infinity])
        try w.commit()
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.map(\.check) == ["nonfinite"])
        #expect(report.failures.first?.message.contains("2 NaN/Inf") == true)
    }

    @Test func failedWriteLeavesExistingCheckpointAndNoTemporary() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/keep.h5"
        _ = try writeSample(p)
        let before = try Data(contentsOf: URL(fileURLWithPath: p))
        do {
            let w = try CheckpointWriter(path: p)
            let s = try w.beginTensor(.model("x"), dtype: .float32, shape: [4])
            try [Float](repeating: 1, count: 8).withUnsafeBytes { try s.append($0) }  // too many bytes
            Issue.record("oversized append accepted")
        } catch {
            #expect("\(error)".contains("x"))
        }
        do {
            let w = try CheckpointWriter(path: p)
            try w.write(.model("y"), shape: [2], floats: [1, 2])
            w.abort()
            #expect(throws: StoreError.self) { try w.commit() }
        }
        do {
            // Commit refused with a stream left open: nothing published.
            let w = try CheckpointWriter(path: p)
            _ = try w.beginTensor(.model("z"), dtype: .float32, shape: [2])
            #expect(throws: StoreError.self) { try w.commit() }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: p)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keep.h5"])
    }

    @Test func badArgumentsAreTypedErrors() throws {
        #expect(throws: StoreError.self) { try Codec(parsing: "lz4") }
        #expect(throws: StoreError.self) { try DType(parsing: "float8") }
        #expect(try Codec(parsing: "zstd:3") == .zstd(level: 3))
        #expect(try DType(parsing: "bf16") == .bfloat16)
    }
}
