import CheckpointStore
import Foundation
import Testing

/// No command overwrites an existing output without `--force`, none ever replaces one of its
/// own inputs, and `--force` replaces atomically (issue 9, items 3, 14 and 15).
@Suite struct OutputSafetyTests {
    static let fixture = StepCommandTests.fixture

    func synth(_ out: String, _ extra: [String] = []) throws -> CLIResult {
        try CLI.run(["synth", "--preset", "tiny", "--optimizer", "adamw", "--out", out] + extra)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test func existingOutputIsRefusedWithoutForceBeforeAnyWork() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.h5"
        #expect(try synth(a).status == 0)
        let before = bytes(a)
        let again = try synth(a, ["--seed", "5"])
        #expect(again.status == 2)
        #expect(again.stderr.contains("a.h5: already exists; pass --force"), "\(again.stderr)")
        #expect(bytes(a) == before)

        // A directory in the way fails at once (no temporary written), with or without --force.
        let d = dir + "/d"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
        for extra in [[], ["--force"]] {
            let r = try synth(d, extra)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(temporaries(in: dir).isEmpty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: d).isEmpty)

        let get = try CLI.run(["get", a, "layers.0.attn.q.weight", "--out", dir + "/d"])
        #expect(get.status == 2)
        let conv = try CLI.run(["convert", a, "--to", "megatron", "--tp", "1", "--pp", "1", "--out", d])
        #expect(conv.status == 2 && conv.stderr.contains("already exists"), "\(conv.stderr)")
    }

    @Test func inputsAreNeverReplacedEvenWithForce() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.h5", link = dir + "/link.h5", meg = dir + "/meg"
        let before = Self.fixture + "/before.h5", batch = Self.fixture + "/batch.h5"
        #expect(try synth(a).status == 0)
        try FileManager.default.linkItem(atPath: a, toPath: link)
        #expect(try CLI.run(["convert", a, "--to", "megatron", "--tp", "1", "--pp", "1", "--out", meg]).status == 0)
        let original = bytes(a), originalBefore = bytes(before), originalBatch = bytes(batch)
        let cases: [[String]] = [
            ["get", a, "layers.0.attn.q.weight", "--out", a],
            ["get", a, "layers.0.attn.q.weight", "--out", dir + "/./a.h5"],
            ["get", a, "layers.0.attn.q.weight", "--out", link],
            ["convert", a, "--to", "wafer", "--out", a],
            ["convert", meg, "--to", "wafer", "--out", meg + "/inside.h5"],
            ["convert", a, "--to", "megatron", "--tp", "1", "--pp", "1", "--out", dir],
            ["step", "--before", before, "--batch", batch, "--out", before],
            ["step", "--before", before, "--batch", batch, "--out", batch],
        ]
        for c in cases {
            for force in [false, true] {
                let r = try CLI.run(c + (force ? ["--force"] : []))
                #expect(r.status == 2, "\(c) \(force): \(r.stderr)")
                if force { #expect(r.stderr.contains("--force does not apply"), "\(c): \(r.stderr)") }
            }
        }
        #expect(bytes(a) == original)
        #expect(bytes(before) == originalBefore)
        #expect(bytes(batch) == originalBatch)
        #expect(!FileManager.default.fileExists(atPath: meg + "/inside.h5"))
        #expect(temporaries(in: dir).isEmpty)
    }

    @Test func forceReplacesFilesAndDirectoriesWhole() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.h5", b = dir + "/b.h5", meg = dir + "/meg"
        #expect(try synth(a).status == 0)
        #expect(try synth(b, ["--seed", "9"]).status == 0)
        let old = bytes(b)
        let r = try synth(b, ["--seed", "10", "--force"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bytes(b) != old)
        #expect(try CLI.run(["verify", b]).status == 0)

        #expect(try CLI.run(["convert", a, "--to", "megatron", "--tp", "1", "--pp", "1", "--out", meg]).status == 0)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: meg + "/extra.txt"))
        let c = try CLI.run(["convert", b, "--to", "megatron", "--tp", "2", "--pp", "1", "--out", meg, "--force"])
        #expect(c.status == 0, "\(c.stderr)")
        // The whole old tree is gone: the new one replaced it, not merged into it.
        #expect(!FileManager.default.fileExists(atPath: meg + "/extra.txt"))
        #expect(FileManager.default.fileExists(atPath: meg + "/iter_0000100/mp_rank_01/model_optim_rng.h5"))
        let back = dir + "/back.h5"
        #expect(try CLI.run(["convert", meg, "--to", "wafer", "--out", back]).status == 0)
        #expect(try CLI.run(["verify", back]).status == 0)
        #expect(temporaries(in: dir).isEmpty)

        let npy = dir + "/q.npy"
        #expect(try CLI.run(["get", a, "layers.0.attn.q.weight", "--out", npy]).status == 0)
        #expect(try CLI.run(["get", a, "layers.0.attn.k.weight", "--out", npy]).status == 2)
        #expect(try CLI.run(["get", a, "layers.0.attn.k.weight", "--out", npy, "--force"]).status == 0)
    }

    @Test func outputTheFileSystemCannotHoldIsRefusedUpFront() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/huge.h5"
        // About 0.65T parameters (2.6 TB in fp32), within the flag bounds: no test machine has that free.
        let r = try CLI.run(["synth", "--preset", "tiny", "--hidden", "16384", "--heads", "64", "--layers", "200", "--out", out])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("not enough free space: needs") && r.stderr.contains("free on /"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}
