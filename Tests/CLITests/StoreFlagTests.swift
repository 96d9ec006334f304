import CheckpointStore
import Foundation
import Testing

/// Issue 9 item 13: `bench write --dtype fp16` writes float16 bit patterns (not bf16), and zstd
/// levels outside 1...22 (negative ones were stored as 4294967291) are refused.
@Suite struct StoreFlagTests {
    @Test func benchWriteFp16StoresFloat16Values() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bench = dir + "/bench.h5", synth = dir + "/synth.h5"
        let b = try CLI.run(["bench", "write", "--preset", "tiny", "--dtype", "fp16", "--out", bench, "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let s = try CLI.run(["synth", "--preset", "tiny", "--dtype", "fp16", "--out", synth])
        #expect(s.status == 0, "\(s.stderr)")
        // Both draw the same deterministic values; synth rounds them to float16 correctly.
        let key = TensorKey.model("layers.0.attn.q.weight")
        let got = try CheckpointReader(path: bench).read(key)
        let want = try CheckpointReader(path: synth).read(key)
        #expect(got.dtype == .float16)
        #expect(got.bytes == want.bytes, "bench write stored other bit patterns than float16")
        let values = got.floats()
        #expect(values.allSatisfy { $0.isFinite && abs($0) < 1 }, "float16 values out of range: \(values.prefix(4))")
    }

    @Test(arguments: ["zstd:-5", "zstd:0", "zstd:23", "zstd:x"])
    func zstdLevelOutsideOneToTwentyTwoIsRefused(codec: String) throws {
        let dir = CLI.tempDir("codec" + codec)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["synth", "--preset", "tiny", "--codec", codec, "--out", dir + "/c.h5"])
        #expect(r.status == 2)
        #expect(r.stderr.contains(codec) && r.stderr.contains("1..22"), "\(r.stderr)")
    }

    @Test func zstdLevelIsShownAsWritten() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try CLIFixtures.tiny(dir, extra: ["--codec", "zstd:22"])
        let ls = try CLI.run(["ls", f, "--json"])
        let rows = try #require(try CLIFixtures.json(ls)["tensors"] as? [[String: Any]])
        #expect(!rows.isEmpty)
        #expect(rows.allSatisfy { ($0["codec"] as? String)?.contains("zstd:22") == true }, "\(rows.first ?? [:])")
    }
}
