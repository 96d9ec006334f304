import CheckpointStore
import Foundation
import Testing

/// The command line on Megatron torch_dist directories (the megatron-core fixtures): `info`,
/// `ls`, `verify` and `get` read them like any Megatron directory, and `convert --to
/// megatron-dist` writes one that reads back to the same canonical tensors.
@Suite struct MegatronDistCLITests {
    static var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/interop/megatron-dist-llama-tp2pp2").path
    }

    @Test func infoLsVerifyGetReadTorchDist() throws {
        let info = try CLI.run(["info", Self.fixture, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let doc = try CLIFixtures.json(info)
        #expect(doc["format"] as? String == "megatron-dist")
        #expect(doc["step"] as? Int == 2 && doc["files"] as? Int == 4)
        let ls = try CLI.run(["ls", Self.fixture, "--json"])
        let rows = try #require(try CLIFixtures.json(ls)["tensors"] as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["rank"] as? String }) == ["tp0pp0", "tp1pp0", "tp0pp1", "tp1pp1"])
        #expect(rows.contains { $0["name"] as? String == "optimizer.exp_avg.decoder.layers.1.mlp.linear_fc1.weight" })
        let verify = try CLI.run(["verify", Self.fixture])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let get = try CLI.run(["get", Self.fixture, "layers.3.mlp.gate.weight", "--out", dir + "/g.npy"])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/g.npy"))
    }

    @Test func convertToMegatronDistAndBack() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try CLI.run(["convert", Self.fixture, "--to", "megatron-dist", "--tp", "1", "--pp", "2", "--out", dir + "/d", "--json"])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/d/iter_0000002/.metadata"))
        #expect(FileManager.default.fileExists(atPath: dir + "/d/iter_0000002/common.pt"))
        #expect((try? String(contentsOfFile: dir + "/d/iter_0000002/metadata.json", encoding: .utf8))?.contains("torch_dist") == true)
        for (src, name) in [(Self.fixture, "a"), (dir + "/d", "b")] {
            let r = try CLI.run(["convert", src, "--to", "wafer", "--out", dir + "/\(name).h5"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = try CheckpointReader(path: dir + "/a.h5"), b = try CheckpointReader(path: dir + "/b.h5")
        #expect(a.tensors.map(\.key) == b.tensors.map(\.key))
        for t in a.tensors { #expect(try a.read(t.key) == b.read(t.key), "\(t.key)") }
        let bad = try CLI.run(["convert", Self.fixture, "--to", "megatron-dist", "--out", dir + "/e"])
        #expect(bad.status == 2 && bad.stderr.contains("needs --tp and --pp"), "\(bad.stderr)")
    }
}
