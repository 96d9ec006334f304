import CHDF5
import Foundation
import Testing

@testable import CheckpointStore

/// Format v1.1's metadata checksum: the documented test vector, the writer recording it, and a
/// single changed byte anywhere in the metadata failing `verify`.
@Suite struct MetadataChecksumTests {
    /// A checkpoint with every kind of metadata: config, optimizer, user JSON, RNG, a distinctive step.
    func writeCheckpoint(_ p: String) throws {
        let cfg = ModelConfig.preset(family: "gpt2", name: "tiny")!
        let w = try CheckpointWriter(path: p, options: WriterOptions(codec: .zstd(level: 1), chunkBytes: 1 << 12, threads: 1))
        w.metadata = CheckpointMetadata(
            step: 0x0123_4567_89ab, modelConfig: cfg, optimizer: OptimizerConfig(variant: "torch"),
            rng: ["torch_cpu": Array("RNG-STATE-BYTES-0123456789".utf8)], userJSON: #"{"run":"metadata-test"}"#)
        for (k, t) in cfg.canonicalTensors().enumerated() {
            let n = t.shape.reduce(1, *)
            let bytes = sampleBytes(.bfloat16, count: n, seed: UInt64(k))
            try bytes.withUnsafeBytes { try w.write(.model(t.name), dtype: .bfloat16, shape: t.shape, bytes: $0) }
            for s in ["exp_avg", "exp_avg_sq", "master"] {
                try w.write(.optimizer(s, t.name), shape: t.shape, floats: [Float](repeating: 0.25, count: n))
            }
        }
        try w.commit()
    }

    /// Replaces the first occurrence of `old` in the file with `new` (same length), as a binary editor would.
    func edit(_ p: String, _ old: [UInt8], _ new: [UInt8]) throws {
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: p)))
        let i = try #require((0...(d.count - old.count)).first { d[$0..<($0 + old.count)].elementsEqual(old) }, "pattern not in file")
        d.replaceSubrange(i..<(i + old.count), with: new)
        try Data(d).write(to: URL(fileURLWithPath: p))
    }

    @Test func documentedTestVector() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/vector.h5"
        HDF5Library.prepareThread()
        let f = H5Fcreate(p, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        #expect(H5Attributes.writeString(f, "format", "ckpt"))
        #expect(H5Attributes.writeInt64(f, "format_version", 1))
        let lcpl = H5Pcreate(ckpt_H5P_LINK_CREATE())
        H5Pset_create_intermediate_group(lcpl, 1)
        let dims: [hsize_t] = [3]
        let space = H5Screate_simple(1, dims, dims)
        let ds = H5Dcreate2(f, "/rng/a", ckpt_H5T_STD_U8LE(), space, lcpl, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        let data: [UInt8] = [1, 2, 3]
        H5Dwrite(ds, ckpt_H5T_NATIVE_UINT8(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), data)
        let scalar = H5Screate(H5S_SCALAR)
        let a = H5Acreate2(ds, "note", ckpt_H5T_IEEE_F32LE(), scalar, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        var half: Float = 0.5
        H5Awrite(a, ckpt_H5T_NATIVE_FLOAT(), &half)
        let bytes = try MetadataChecksum.serialise(file: f)
        let sum = try MetadataChecksum.compute(file: f)
        H5Aclose(a)
        H5Sclose(scalar)
        H5Dclose(ds)
        H5Sclose(space)
        H5Pclose(lcpl)
        H5Fclose(f)
        #expect(bytes.count == 155)
        #expect(Array(bytes.prefix(19)) == Array("ckpt-metadata-v1.1\n".utf8))
        #expect(Array(bytes.suffix(12)) == [0x44, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        #expect(sum == 0x4020_5c76_1c28_d71c)
    }

    @Test func writerRecordsItAndVerifierChecksIt() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        let r = try CheckpointReader(path: p)
        #expect(r.metadataIntegrity() == .verified)
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.ok, "\(report.failures)")
        #expect(report.metadataChecksum == "verified")
        #expect(report.notes.isEmpty, "\(report.notes)")
    }

    /// One byte changed with a binary editor, in each kind of metadata the format covers.
    @Test(arguments: [
        ("lr digit in optimizer", #""lr":0.0006"#, #""lr":0.0007"#),
        ("model_config number", #""hidden":64"#, #""hidden":65"#),
        ("user_metadata", "metadata-test", "metadata-tesT"),
        ("codec attribute", "zstd:1", "zstd:7"),
        ("rng byte", "RNG-STATE-BYTES", "RNG-STATE-BYTEZ"),
        ("writer", "ckpt 0.", "ckpt 9."),
    ])
    func oneChangedByteFailsVerify(label: String, old: String, new: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        try edit(p, Array(old.utf8), Array(new.utf8))
        let report = try CheckpointVerifier().verify(path: p)
        #expect(!report.ok, "\(label)")
        #expect(report.metadataChecksum == "failed", "\(label)")
        #expect(report.failures.contains { $0.check == "metadata" && $0.message.contains("metadata damaged") }, "\(label): \(report.failures)")
    }

    @Test func changedStepFailsVerify() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        // step 0x0123456789ab, little-endian in the root's attribute heap; one bit flipped. HDF5
        // may itself refuse the heap (then opening fails) or read the new value (then the
        // metadata checksum fails): never "ok".
        try edit(p, [0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0], [0xab, 0x89, 0x67, 0x45, 0x23, 0x03, 0, 0])
        let report = try CheckpointVerifier().verify(path: p)
        #expect(!report.ok)
        #expect(report.failures.contains { $0.check == "open" || $0.check == "metadata" }, "\(report.failures)")
    }

    @Test func changedDTypeAttributeFailsVerify() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        try edit(p, Array("bfloat16".utf8), Array("bfloat15".utf8))
        let report = try CheckpointVerifier().verify(path: p)
        #expect(!report.ok)
        #expect(report.failures.contains { $0.check == "open" || $0.check == "metadata" }, "\(report.failures)")
    }

    @Test func lostChecksumAttributeIsDamage() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        try deleteRootAttributes(p, [MetadataChecksum.attribute])
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.map(\.check) == ["metadata"])
        #expect(report.failures.first?.message.contains("format_minor 1 promises a metadata_xxh3_64") == true)
    }

    @Test func v10FileVerifiesWithANote() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/m.h5"
        try writeCheckpoint(p)
        try deleteRootAttributes(p, [MetadataChecksum.attribute, MetadataChecksum.minorAttribute])
        #expect(try CheckpointReader(path: p).metadataIntegrity() == .notRecorded)
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.ok, "\(report.failures)")
        #expect(report.metadataChecksum == "absent")
        #expect(report.notes.contains { $0.contains("not covered") })
    }

    @Test func negativeStepFailsVerify() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = dir + "/s.h5"
        let w = try CheckpointWriter(path: p)
        w.metadata.step = -5
        try w.write(.model("x"), shape: [2], floats: [1, 2])
        try w.commit()
        let report = try CheckpointVerifier().verify(path: p)
        #expect(report.failures.map(\.check) == ["metadata"])
        #expect(report.failures.first?.message.contains("step -5 is negative") == true)
    }

    func deleteRootAttributes(_ p: String, _ names: [String]) throws {
        HDF5Library.prepareThread()
        let f = H5Fopen(p, ckpt_H5F_ACC_RDWR(), ckpt_H5P_DEFAULT())
        try #require(f >= 0)
        for n in names { #expect(H5Adelete(f, n) >= 0) }
        H5Fclose(f)
    }
}
