import CheckpointStore
import Foundation
import Testing

/// `ckpt verify` says what it could not check, fails on partial optimizer state unless
/// `--allow-partial`, catches a one-byte metadata edit, and survives libhdf5 crashing.
@Suite struct VerifyCoverageTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A wafer checkpoint of the tiny GPT-2 with Adam state; `skip` names optimizer tensors to leave out.
    func write(_ p: String, dtype: DType = .float32, skip: Set<String> = [], skipStates: Set<String> = []) throws {
        let cfg = ModelConfig.preset(family: "gpt2", name: "tiny")!
        let w = try CheckpointWriter(path: p)
        w.metadata = CheckpointMetadata(step: 10, modelConfig: cfg, optimizer: OptimizerConfig())
        for t in cfg.canonicalTensors() {
            let n = t.shape.reduce(1, *)
            // 0.5 in float32, or in bfloat16 (0x3f00 little-endian).
            let bytes =
                dtype == .float32
                ? TensorData(shape: t.shape, floats: [Float](repeating: 0.5, count: n)).bytes
                : (0..<(2 * n)).map { $0 % 2 == 1 ? UInt8(0x3f) : 0 }
            try w.write(.model(t.name), TensorData(dtype: dtype, shape: t.shape, bytes: bytes))
            var states = ["exp_avg", "exp_avg_sq"]
            if dtype != .float32 { states.append("master") }
            for s in states where !skipStates.contains(s) && !skip.contains("optimizer.\(s).\(t.name)") {
                try w.write(.optimizer(s, t.name), shape: t.shape, floats: [Float](repeating: 0.1, count: n))
            }
        }
        try w.commit()
    }

    @Test(arguments: [
        ("one exp_avg_sq tensor", Set(["optimizer.exp_avg_sq.layers.0.attn.q.weight"]), Set<String>(), DType.float32, "exp_avg_sq"),
        ("the whole exp_avg_sq state", Set<String>(), Set(["exp_avg_sq"]), DType.float32, "exp_avg_sq"),
        (
            "both moments of one parameter", Set(["optimizer.exp_avg.final_norm.bias", "optimizer.exp_avg_sq.final_norm.bias"]), Set<String>(),
            DType.float32, "final_norm.bias"
        ),
        (
            "one master copy of a bf16 parameter", Set(["optimizer.master.layers.1.mlp.up.weight"]), Set<String>(), DType.bfloat16,
            "master missing for 1 parameter(s) that other 16-bit parameters have: layers.1.mlp.up.weight"
        ),
    ])
    func partialOptimizerStateFailsUnlessAllowed(label: String, skip: Set<String>, skipStates: Set<String>, dtype: DType, named: String) throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/p.h5"
        try write(f, dtype: dtype, skip: skip, skipStates: skipStates)
        let r = try CLI.run(["verify", f])
        #expect(r.status == 1, "\(label): \(r.stdout)")
        #expect(r.stdout.contains("FAIL \(f): optimizer state") && r.stdout.contains(named), "\(label): \(r.stdout)")
        #expect(r.stdout.contains("--allow-partial"))
        let allowed = try CLI.run(["verify", "--allow-partial", f])
        #expect(allowed.status == 0, "\(label): \(allowed.stdout)")
        #expect(allowed.stdout.contains("note: optimizer state"), "\(label): \(allowed.stdout)")
    }

    @Test func completeOptimizerStatePasses() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/c.h5"
        try write(f, dtype: .bfloat16)
        let r = try CLI.run(["verify", f])
        #expect(r.status == 0, "\(r.stdout)")
    }

    @Test func filesWithoutChecksumsSayWhatWasNotChecked() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/h.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", f]).status == 0)
        // What a plain h5py writer produces: no per-dataset attributes, no metadata checksum.
        let strip = """
            import h5py, sys
            with h5py.File(sys.argv[1], "r+") as f:
                for k in ("metadata_xxh3_64", "format_minor"):
                    del f.attrs[k]
                found = []
                f.visititems(lambda n, o: found.append(o) if isinstance(o, h5py.Dataset) and n.startswith("model/") else None)
                for o in found:
                    for a in ("xxh3_64", "dtype", "codec"):
                        del o.attrs[a]
            """
        let py = try CLI.python(["-c", strip, f])
        #expect(py.status == 0, "\(py.stderr)")
        let r = try CLI.run(["verify", f])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("note: 36 tensor(s) have no xxh3_64 checksum"), "\(r.stdout)")
        #expect(r.stdout.contains("note: 36 tensor(s) have no dtype attribute"), "\(r.stdout)")
        #expect(r.stdout.contains("note: no metadata checksum"), "\(r.stdout)")
        let j = try CLI.run(["verify", "--json", f])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let file = try #require((obj["files"] as? [[String: Any]])?.first)
        #expect(file["tensors_without_checksum"] as? Int == 36)
        #expect(file["tensors_without_dtype"] as? Int == 36)
        #expect(file["metadata_checksum"] as? String == "absent")
    }

    @Test func oneLearningRateDigitChangedFailsVerify() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/lr.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f]).status == 0)
        #expect(try CLI.run(["verify", f]).status == 0)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f)))
        let key = Array(#""lr":0.0006"#.utf8)
        let i = try #require((0...(d.count - key.count)).first { d[$0..<($0 + key.count)].elementsEqual(key) })
        d[i + key.count - 1] = UInt8(ascii: "7")
        try Data(d).write(to: URL(fileURLWithPath: f))
        let r = try CLI.run(["verify", f])
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stdout.contains("FAIL \(f): metadata damaged: metadata_xxh3_64 mismatch"), "\(r.stdout)")
    }

    /// A metadata phase that does not end within CKPT_VERIFY_METADATA_TIMEOUT (stalled through
    /// the debug build's fault-injection variable) is killed and reported as damage, at once.
    @Test func stalledMetadataPhaseIsKilledAndReportedAsDamage() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/stall.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", f]).status == 0)
        let t0 = Date()
        let r = try CLI.run(["verify", f, "--json"], shellPrefix: "export CKPT_VERIFY_METADATA_TIMEOUT=2 CKPT_TEST_STALL_METADATA=1")
        #expect(r.status == 1, "status \(r.status): \(r.stdout)")
        #expect(r.stdout.contains("did not finish reading its metadata in 2 s"), "\(r.stdout)")
        #expect(Date().timeIntervalSince(t0) < 30)
    }

    /// A global heap object size of 2055 for a 7-byte string makes libhdf5 1.10 loop or crash while
    /// opening the file (which, depends on memory layout); either way it is reported as damage.
    @Test func libhdf5HangIsReportedAsDamage() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/hang.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f]).status == 0)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f)))
        let object: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0] + Array("float32".utf8)
        let i = try #require((0...(d.count - object.count)).first { d[$0..<($0 + object.count)].elementsEqual(object) })
        d[i + 1] |= 0x08
        try Data(d).write(to: URL(fileURLWithPath: f))
        let r = try CLI.run(["verify", f], shellPrefix: "export CKPT_VERIFY_METADATA_TIMEOUT=3")
        #expect(r.status == 1, "status \(r.status): \(r.stdout)")
        #expect(r.stdout.contains("FAIL \(f): metadata damaged"), "\(r.stdout)")
    }

    /// A global heap collection whose size field grew (HDF5 1.10 reads on, HDF5 2.x refuses the
    /// string attributes in it) fails verify.
    @Test func damagedGlobalHeapCollectionFailsVerify() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/gcol.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f]).status == 0)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f)))
        let sig = Array("GCOL".utf8) + [1, 0, 0, 0]
        let i = try #require((0...(d.count - sig.count)).first { d[$0..<($0 + sig.count)].elementsEqual(sig) })
        d[i + 10] |= 0x08  // collection size 4096 -> 528384
        try Data(d).write(to: URL(fileURLWithPath: f))
        let r = try CLI.run(["verify", f])
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stdout.contains("FAIL \(f): metadata damaged: global heap collection at \(i)"), "\(r.stdout)")
    }

    /// A damaged global-heap object size makes libhdf5 1.10 segfault inside `H5Aread`; verify
    /// reports the file as damaged instead of dying with it.
    @Test func libhdf5CrashIsReportedAsDamage() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/crash.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", f]).status == 0)
        var d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f)))
        // A global heap object: ..., size (8 bytes LE) = 7, then "float32\0". Make the size 135.
        let object: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0] + Array("float32".utf8)
        let i = try #require((0...(d.count - object.count)).first { d[$0..<($0 + object.count)].elementsEqual(object) })
        d[i] = 0x87
        try Data(d).write(to: URL(fileURLWithPath: f))
        let r = try CLI.run(["verify", f])
        #expect(r.status == 1, "status \(r.status): \(r.stdout)\(r.stderr.prefix(300))")
        #expect(r.stdout.contains("FAIL \(f): "), "\(r.stdout)")
        let j = try CLI.run(["verify", "--json", f])
        #expect(j.status == 1)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any], "\(j.stdout)")
        #expect(obj["ok"] as? Bool == false)
    }
}
