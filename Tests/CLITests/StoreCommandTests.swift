import CheckpointStore
import Foundation
import Testing

@Suite struct StoreCommandTests {
    @Test func synthInfoLsVerifyGetEndToEnd() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/tiny.h5"
        let s = try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--dtype", "bf16", "--out", f, "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as! [String: Any]
        let cfg = ModelConfig.preset(family: "gpt2", name: "tiny")!
        #expect(summary["parameters"] as? Int == cfg.parameterCount)

        let info = try CLI.run(["info", f, "--json"])
        #expect(info.status == 0)
        let i = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any]
        #expect(i["parameters"] as? Int == cfg.parameterCount)
        #expect(i["step"] as? Int == 100)
        #expect((i["dtypes"] as? [String: Int])?["bfloat16"] == cfg.canonicalTensors().count)
        // params (bf16) + exp_avg + exp_avg_sq + master
        #expect(i["tensors"] as? Int == 4 * cfg.canonicalTensors().count)

        let ls = try CLI.run(["ls", f])
        #expect(ls.status == 0)
        #expect(ls.stdout.contains("layers.1.mlp.down.weight"))
        #expect(ls.stdout.contains("optimizer.master.embed.tokens.weight"))

        let v = try CLI.run(["verify", f, "--json"])
        #expect(v.status == 0, "\(v.stdout)")
        let report = try JSONSerialization.jsonObject(with: Data(v.stdout.utf8)) as! [String: Any]
        #expect(report["ok"] as? Bool == true)

        // get: .npy of rows 2..<5 equals the reader's values widened to float32.
        let npy = dir + "/q.npy"
        let g = try CLI.run(["get", f, "layers.0.attn.q.weight", "--rows", "2:5", "--out", npy])
        #expect(g.status == 0, "\(g.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: npy))
        let headerLen = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLen)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'"))
        #expect(header.contains("'shape': (3, 64)"))
        let payload = data[(10 + headerLen)...]
        let values = payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expected = try CheckpointReader(path: f).read(.model("layers.0.attn.q.weight"), rows: 2..<5).floats()
        #expect(values == expected)
    }

    @Test func verifyFailsNamingTheDamagedTensor() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/d.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", f]).status == 0)
        let chunks = try CheckpointReader(path: f).chunkLocations(.model("layers.1.mlp.up.weight"))
        let c = try #require(chunks.first)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: f))
        try h.seek(toOffset: c.address + UInt64(c.size / 3))
        var b = try h.read(upToCount: 1)!
        b[0] ^= 0x04
        try h.seek(toOffset: c.address + UInt64(c.size / 3))
        try h.write(contentsOf: b)
        try h.close()
        let v = try CLI.run(["verify", f])
        #expect(v.status == 1)
        #expect(v.stdout.contains("layers.1.mlp.up.weight"))
        #expect(v.stdout.contains(f))
        let j = try CLI.run(["verify", f, "--json"])
        #expect(j.status == 1)
        #expect(j.stdout.contains("\"check\" : \"chunk\""))
    }

    @Test func badInputsGiveOneLineErrorsAndExitCodes() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try CLI.run(["info", dir + "/nope.h5"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.h5"))
        #expect(missing.stderr.split(separator: "\n").count == 1)

        let junk = dir + "/junk.h5"
        FileManager.default.createFile(atPath: junk, contents: Data(repeating: 7, count: 5000))
        let notH5 = try CLI.run(["verify", junk])
        #expect(notH5.status == 1)
        #expect(notH5.stdout.contains("not an HDF5 file"))

        let f = dir + "/ok.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", f]).status == 0)
        let truncated = dir + "/cut.h5"
        let whole = try Data(contentsOf: URL(fileURLWithPath: f))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        let t = try CLI.run(["verify", truncated])
        #expect(t.status == 1)
        #expect(t.stdout.contains("cut.h5"))

        let badFlag = try CLI.run(["synth", "--codec", "lz4", "--out", dir + "/x.h5"])
        #expect(badFlag.status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.h5"))

        let badTensor = try CLI.run(["get", f, "no.such.tensor", "--out", dir + "/x.npy"])
        #expect(badTensor.status != 0)
        #expect(badTensor.stderr.contains("no.such.tensor"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.npy"))
    }

    @Test func fullDiskLeavesExistingCheckpointUntouched() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/model.h5"
        #expect(try CLI.run(["synth", "--preset", "tiny", "--out", f]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: f))
        // A 124M checkpoint cannot fit in 20 MB: ulimit -f (1 KiB blocks) makes writes fail with EFBIG.
        let r = try CLI.run(["synth", "--preset", "124m", "--out", f], shellPrefix: "ulimit -f 20000")
        #expect(r.status != 0)
        #expect(r.stderr.contains(f))
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: f)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.h5"])
    }

    @Test func libraryExampleRuns() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let example = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("ckpt-example").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: example)
        p.arguments = [dir + "/example.h5"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(text.contains("round trip ok"))
    }
}
