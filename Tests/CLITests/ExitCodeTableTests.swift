import Foundation
import Testing

/// Issue 9 item 17: one exit-code table (0 ok, 1 a check failed or the data is bad, 2 usage or
/// I/O), the same for every command. Each row of the README table is run here with the real
/// binary, on every command the row applies to.
@Suite struct ExitCodeTableTests {
    /// The inputs of the table, built once per test in its own directory.
    struct Inputs {
        var dir: String
        var tiny: String, empty: String, junk: String, damaged: String, plainDir: String
        var megatron: String, missingRank: String, badTracker: String, missingIteration: String

        init() throws {
            dir = CLI.tempDir("exittable")
            tiny = try CLIFixtures.tiny(dir)
            empty = dir + "/empty.h5"
            _ = FileManager.default.createFile(atPath: empty, contents: Data())
            junk = dir + "/junk.h5"
            _ = FileManager.default.createFile(atPath: junk, contents: Data(repeating: 7, count: 5000))
            damaged = try CLIFixtures.tiny(dir, "damaged.h5")
            try CLIFixtures.damageChunk(damaged, tensor: "layers.1.mlp.up.weight")
            plainDir = dir + "/plain"
            try FileManager.default.createDirectory(atPath: plainDir, withIntermediateDirectories: true)
            megatron = try CLIFixtures.megatron(dir)
            let fm = FileManager.default
            missingRank = dir + "/missing-rank"
            try fm.copyItem(atPath: megatron, toPath: missingRank)
            try fm.removeItem(atPath: missingRank + "/iter_0000100/mp_rank_01_001/model_optim_rng.h5")
            badTracker = dir + "/bad-tracker"
            try fm.copyItem(atPath: megatron, toPath: badTracker)
            try "junk\n".write(toFile: badTracker + "/latest_checkpointed_iteration.txt", atomically: true, encoding: .utf8)
            missingIteration = dir + "/missing-iter"
            try fm.copyItem(atPath: megatron, toPath: missingIteration)
            try "200\n".write(toFile: missingIteration + "/latest_checkpointed_iteration.txt", atomically: true, encoding: .utf8)
        }
    }

    /// Commands that take one checkpoint path: the path goes where `P` stands.
    static let readers: [[String]] = [["info", "P"], ["ls", "P"], ["verify", "P"], ["get", "P", "NAME", "--out", "OUT"]]

    func expect(_ code: Int32, _ commands: [[String]], path: String, _ i: Inputs, row: String, name: String = "layers.0.attn.q.weight") throws {
        for c in commands {
            for json in [false, true] {
                let out = i.dir + "/out-\(UUID().uuidString.prefix(6)).npy"
                let argv = c.map { $0 == "P" ? path : $0 == "OUT" ? out : $0 == "NAME" ? name : $0 } + (json ? ["--json"] : [])
                let r = try CLI.run(argv)
                #expect(r.status == code, "row '\(row)': \(argv) exited \(r.status): \(r.stdout)\(r.stderr)")
                if json {
                    let doc = try CLIFixtures.json(r)
                    #expect(doc["exit_code"] as? Int == Int(code), "row '\(row)': \(argv): \(doc)")
                } else if code != 0 {
                    #expect(!r.stderr.isEmpty || !r.stdout.isEmpty)
                }
                #expect(code == 0 || !FileManager.default.fileExists(atPath: out), "row '\(row)': output left by a failure")
            }
        }
    }

    @Test func everyRowOfTheTable() throws {
        let i = try Inputs()
        defer { try? FileManager.default.removeItem(atPath: i.dir) }
        // 0: success.
        try expect(0, Self.readers, path: i.tiny, i, row: "ok")
        try expect(0, Self.readers, path: i.megatron, i, row: "ok (Megatron directory)")
        // 1: the check failed or the data is bad.
        try expect(1, [["verify", "P"]], path: i.damaged, i, row: "damaged tensor data")
        try expect(1, [["get", "P", "layers.1.mlp.up.weight", "--out", "OUT"]], path: i.damaged, i, row: "damaged tensor data (get)")
        try expect(1, Self.readers, path: i.empty, i, row: "empty file")
        try expect(1, Self.readers, path: i.junk, i, row: "not an HDF5 file")
        try expect(
            1, [["info", "P"], ["ls", "P"], ["verify", "P"], ["convert", "P", "--to", "wafer", "--out", "OUT"]], path: i.missingRank, i,
            row: "missing rank file")
        try expect(
            1, [["info", "P"], ["ls", "P"], ["verify", "P"], ["convert", "P", "--to", "wafer", "--out", "OUT"]], path: i.badTracker, i, row: "bad tracker")
        try expect(1, [["info", "P"], ["verify", "P"]], path: i.missingIteration, i, row: "tracker names a missing iteration")
        // 2: usage or I/O.
        try expect(2, Self.readers, path: i.dir + "/missing.h5", i, row: "missing path")
        try expect(2, Self.readers, path: i.plainDir, i, row: "directory that is not a checkpoint")
        try expect(2, [["get", "P", "no.such.tensor", "--out", "OUT"]], path: i.tiny, i, row: "unknown tensor")
        try expect(2, [["get", "P", "no.such.tensor", "--out", "OUT"]], path: i.megatron, i, row: "unknown tensor (Megatron directory)")
        try expect(2, [["get", "P", "NAME", "--rank", "tp7pp0", "--out", "OUT"]], path: i.megatron, i, row: "unknown rank")
        try expect(2, [["synth", "--preset", "tiny", "--layers", "0", "--out", "OUT"]], path: "", i, row: "bad flag value")
        try expect(2, [["convert", "P", "--to", "megatron", "--tp", "1", "--pp", "1", "--out", i.megatron]], path: i.tiny, i, row: "output exists")
        // The same rows for the batch file of step and verify-step.
        let fx = CLIFixtures.fixture
        let stepping = [
            ["step", "--before", fx + "/before.h5", "--batch", "P", "--out", "OUT"],
            ["verify-step", "--before", fx + "/before.h5", "--after", fx + "/after.h5", "--batch", "P"],
        ]
        try expect(2, stepping, path: i.dir + "/missing-batch.h5", i, row: "missing path (batch)")
        try expect(2, stepping, path: i.plainDir, i, row: "directory where a batch file is expected")
        try expect(1, stepping, path: i.empty, i, row: "empty file (batch)")
        try expect(1, [["step", "--before", "P", "--batch", fx + "/batch.h5", "--out", "OUT"]], path: i.badTracker, i, row: "bad tracker (step)")
        try expect(
            2, [["step", "--before", "P", "--batch", fx + "/batch.h5", "--out", "OUT"]], path: i.plainDir, i, row: "directory that is not a checkpoint (step)")
        let bare = try CLI.run([])
        #expect(bare.status == 2 && bare.stderr.contains("USAGE"), "bare ckpt: \(bare.status) \(bare.stderr)")
    }
}
