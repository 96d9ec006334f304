import CheckpointStore
import Foundation
import Testing

/// Issue 9 item 18: `info`, `ls`, `verify` and `get` accept a Megatron checkpoint directory
/// wherever `convert` does (they said "not an HDF5 file").
@Suite struct MegatronInputTests {
    @Test func infoSummarisesEveryRank() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try CLIFixtures.megatron(dir)
        let r = try CLI.run(["info", m, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try CLIFixtures.json(r)
        let layout = try #require(doc["layout"] as? [String: Any])
        #expect(layout["kind"] as? String == "megatron" && layout["tp"] as? Int == 2 && layout["pp"] as? Int == 2)
        #expect(doc["files"] as? Int == 4)
        #expect(doc["step"] as? Int == 100)
        let cfg = try #require(ModelConfig.preset(family: "gpt2", name: "tiny"))
        #expect(doc["parameters"] as? Int == cfg.parameterCount)
        let text = try CLI.run(["info", m + "/iter_0000100"])
        #expect(text.status == 0 && text.stdout.contains("in 4 rank files"), "\(text.stdout)\(text.stderr)")
    }

    @Test func lsListsRowsPerRankFile() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try CLIFixtures.megatron(dir)
        let r = try CLI.run(["ls", m, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try CLIFixtures.json(r)["tensors"] as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["rank"] as? String }) == ["tp0pp0", "tp1pp0", "tp0pp1", "tp1pp1"])
        let text = try CLI.run(["ls", m])
        #expect(text.stdout.hasPrefix("rank"), "\(text.stdout.prefix(80))")
    }

    @Test func verifyChecksStructureAndEveryRankFile() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try CLIFixtures.megatron(dir)
        let ok = try CLI.run(["verify", m, "--json"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let files = try #require(try CLIFixtures.json(ok)["files"] as? [[String: Any]])
        #expect(files.filter { ($0["path"] as? String)?.hasSuffix("model_optim_rng.h5") == true }.count == 4)

        // A damaged rank file is found and named.
        let rank = m + "/iter_0000100/mp_rank_01_001/model_optim_rng.h5"
        let reader = try CheckpointReader(path: rank)
        let name = try #require(reader.tensors.max { $0.rawBytes < $1.rawBytes }).key.description
        try CLIFixtures.damageChunk(rank, tensor: name)
        let bad = try CLI.run(["verify", m])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("FAIL") && bad.stdout.contains("mp_rank_01_001") && bad.stdout.contains(name), "\(bad.stdout)")

        // A missing rank file fails the structure check.
        try FileManager.default.removeItem(atPath: rank)
        let missing = try CLI.run(["verify", m])
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("missing rank file for rank tp1/pp1"), "\(missing.stdout)")
    }

    @Test func getReadsFromTheChosenRank() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try CLIFixtures.megatron(dir)
        let rank = m + "/iter_0000100/mp_rank_01_000/model_optim_rng.h5"
        let reader = try CheckpointReader(path: rank)
        let t = try #require(reader.tensors.first { $0.shape.count == 2 })
        let out = dir + "/t.npy"
        let r = try CLI.run(["get", m, t.key.description, "--rank", "tp1pp0", "--out", out, "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(try CLIFixtures.json(r)["rank"] as? String == "tp1pp0")
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let headerLen = Int(data[8]) | Int(data[9]) << 8
        let values = data[(10 + headerLen)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values == (try reader.read(t.key).floats()))

        let wrongRank = try CLI.run(["get", m, t.key.description, "--rank", "tp5pp0", "--out", dir + "/x.npy"])
        #expect(wrongRank.status == 2 && wrongRank.stderr.contains("tp5pp0"), "\(wrongRank.stderr)")
    }

    /// Without --rank, canonical tensors are assembled from every rank exactly as
    /// `convert --to wafer` stores them: the .npy equals the one from the original wafer file.
    @Test(arguments: [
        "embed.tokens.weight", "layers.0.attn.q.weight", "layers.1.attn.v.bias", "layers.1.mlp.up.weight", "layers.0.mlp.down.weight",
        "optimizer.exp_avg_sq.layers.1.attn.k.weight", "optimizer.master.embed.tokens.weight", "final_norm.weight",
    ])
    func getAssemblesCanonicalTensors(name: String) throws {
        let dir = CLI.tempDir("assemble" + name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try CLIFixtures.megatron(dir, extra: ["--dtype", "bf16"])
        let wafer = dir + "/meg-src.h5"
        let a = try CLI.run(["get", m, name, "--rows", "1:", "--out", dir + "/a.npy"])
        #expect(a.status == 0, "\(a.stderr)")
        let w = try CLI.run(["get", wafer, name, "--rows", "1:", "--out", dir + "/w.npy"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.npy")) == Data(contentsOf: URL(fileURLWithPath: dir + "/w.npy")))
    }
}
