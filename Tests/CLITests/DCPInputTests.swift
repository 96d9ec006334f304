import CheckpointStore
import Foundation
import Testing

/// `info`, `ls`, `get`, `verify` and `convert` on PyTorch DCP directories (the torch-written
/// fixtures of Tests/Fixtures/interop): with a config.json the directory is an hf-layout source;
/// without one its global tensors are listed and read by fqn; a damaged one exits 1 with one
/// line naming the file and the tensor.
@Suite struct DCPInputTests {
    static let fixture = CLIFixtures.repo + "/Tests/Fixtures/interop/dcp-state-dict"

    static func bare(_ dir: String) throws -> String {
        let p = dir + "/dcp"
        try FileManager.default.copyItem(atPath: fixture, toPath: p)
        try FileManager.default.removeItem(atPath: p + "/config.json")
        return p
    }

    @Test func infoLsGetVerify() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let info = try CLI.run(["info", Self.fixture, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let doc = try CLIFixtures.json(info)
        #expect(doc["format"] as? String == "dcp" && doc["family"] as? String == "gpt2" && doc["tensors"] as? Int == 29)
        let bare = try Self.bare(dir)
        let ls = try CLI.run(["ls", bare, "--json"])
        #expect(ls.status == 0, "\(ls.stderr)")
        let rows = try #require(try CLIFixtures.json(ls)["tensors"] as? [[String: Any]])
        #expect(rows.contains { $0["name"] as? String == "transformer.h.0.attn.c_attn.weight" })
        let get = try CLI.run(["get", bare, "transformer.wte.weight", "--rows", "49:53", "--out", dir + "/w.npy"])
        #expect(get.status == 0, "\(get.stderr)")
        // .npy: 4 rows x 32 float32 after the header, rows 49..52 straddling the 51/50 split.
        let npy = try Data(contentsOf: URL(fileURLWithPath: dir + "/w.npy"))
        #expect(npy.count > 4 * 32 * 4 && npy.count - 4 * 32 * 4 <= 256)
        let verify = try CLI.run(["verify", bare])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("dcp (29 tensors), structure valid"))
    }

    @Test func aDamagedDirectoryExitsOneNamingFileAndTensor() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bare = try Self.bare(dir)
        try FileManager.default.removeItem(atPath: bare + "/__0_1.distcp")
        let r = try CLI.run(["info", bare])
        #expect(r.status == 1, "\(r.stderr)")
        let line = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n") && line.contains(bare + "/__0_1.distcp") && line.contains("tensor ") && line.contains("is missing"), "\(line)")
    }

    @Test func convertToWafer() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["convert", Self.fixture, "--to", "wafer", "--out", dir + "/w.h5"])
        #expect(r.status == 0, "\(r.stderr)")
        let v = try CLI.run(["verify", dir + "/w.h5"])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    }
}
