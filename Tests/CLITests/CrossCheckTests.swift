import CheckpointStore
import Foundation
import Testing

/// Cross-checks with stock h5py + hdf5plugin through `tools/crosscheck.py` (installed by
/// `tools/setup.sh`): files ckpt writes must pass the Python checker, and files h5py writes with
/// foreign storage choices must read back exactly.
@Suite struct CrossCheckTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func python(_ args: [String]) throws -> CLIResult { try CLI.python(args) }

    @Test(arguments: [
        ["--dtype", "fp32"], ["--dtype", "bf16", "--optimizer", "adamw"], ["--family", "llama", "--codec", "none", "--dtype", "fp16"],
        ["--family", "neox", "--dtype", "bf16", "--optimizer", "adamw"],
        ["--codec", "zstd:3", "--chunk-mb", "0.001"], ["--codec", "zstd:22"],
    ])
    func h5pyReadsWhatCkptWrites(flags: [String]) throws {
        let dir = CLI.tempDir("xc" + flags.joined())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/c.h5"
        let s = try CLI.run(["synth", "--preset", "tiny", "--out", f] + flags)
        #expect(s.status == 0, "\(s.stderr)")
        var check = ["\(Self.repo)/tools/crosscheck.py", "check", f]
        if flags.contains("0.001") { check += ["--chunk-bytes", "1048"] }
        let r = try python(check)
        #expect(r.status == 0, "crosscheck failed (run tools/setup.sh to install h5py, hdf5plugin, xxhash): \(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" 0 failed"))
        // The Python reader recomputes ckpt's metadata checksum (format v1.1) and finds it matching.
        #expect(!r.stdout.contains("metadata checksum"), "\(r.stdout)")
        let meta = try python([
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import h5py, ckpt_reader as cr; "
                + "print(cr.check_metadata_checksum(h5py.File(sys.argv[2], 'r'))[0])",
            "\(Self.repo)/tools", f,
        ])
        #expect(meta.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "verified", "\(meta.stdout)\(meta.stderr)")
    }

    @Test func ckptReadsWhatH5pyWrites() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/foreign.h5"
        let w = try python(["\(Self.repo)/tools/crosscheck.py", "write", f])
        #expect(w.status == 0, "\(w.stderr)")
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f + ".expected.json"))) as! [String: [String: Any]]
        let r = try CheckpointReader(path: f)
        #expect(r.tensors.count == expected.count)
        // The metadata checksum tools/ckpt_reader.py computed is the one ckpt computes (format v1.1).
        #expect(r.metadataIntegrity() == .verified)
        for (name, e) in expected {
            let key = TensorKey(parsing: name)
            let info = try r.info(key)
            #expect(info.dtype.rawValue == e["dtype"] as? String, "\(name)")
            #expect(info.shape == e["shape"] as? [Int], "\(name)")
            let data = try r.read(key)  // verifies the stored xxh3_64 too
            let hash = data.bytes.withUnsafeBytes { XXH3.hash($0) }
            let want = UInt64((e["xxh3_64"] as! String).dropFirst(2), radix: 16)
            #expect(hash == want, "\(name) (\(e["storage"] ?? ""))")
            // Row reads agree with the whole read.
            if let rows = info.shape.first, rows > 2, info.elementCount > 0 {
                let part = try r.read(key, rows: 1..<(rows - 1))
                let rowBytes = info.rawBytes / rows
                #expect(part.bytes == Array(data.bytes[rowBytes..<(rowBytes * (rows - 1))]), "\(name) rows")
            }
        }
    }
}
