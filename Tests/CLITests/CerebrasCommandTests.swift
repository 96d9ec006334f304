import CheckpointStore
import Foundation
import Testing

/// The cstorch-written LLaMA fixture.
private let cerebrasFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/interop/cerebras-llama/checkpoint_2.mdl").path

/// `ckpt` on Cerebras `.mdl` files, through the built executable: the cstorch-written fixture
/// read by info / ls / get / verify, converted to wafer and back (`--to cerebras`).
@Suite(.enabled(if: FileManager.default.fileExists(atPath: cerebrasFixture), "cerebras fixtures missing"))
struct CerebrasCommandTests {
    static let fixture = cerebrasFixture

    @Test func readCommandsOpenTheModelZooFile() throws {
        let info = try CLI.run(["info", Self.fixture, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let doc = try #require(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        #expect(doc["step"] as? Int == 2)
        #expect((doc["model_config"] as? [String: Any])?["kv_heads"] as? Int == 2)
        let ls = try CLI.run(["ls", Self.fixture])
        #expect(ls.status == 0 && ls.stdout.contains("optimizer.exp_avg.model.transformer_decoder.layers.1.ffn.ffn.0.linear_layer_for_glu.weight"))
        let verify = try CLI.run(["verify", Self.fixture])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Canonical names, as for every checkpoint with a layout; a stored name needs its full key
        // (a leading `model.` alone names the model section).
        for name in ["final_norm.weight", "optimizer.exp_avg.layers.1.mlp.gate.weight", "model.model.ln_f.weight"] {
            let get = try CLI.run(["get", Self.fixture, name, "--out", dir + "/\(name).npy"])
            #expect(get.status == 0, "\(name): \(get.stderr)")
        }
    }

    @Test func convertsToWaferAndBack() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try CLI.run(["convert", Self.fixture, "--to", "wafer", "--out", dir + "/w.h5"])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try CLI.run(["convert", dir + "/w.h5", "--to", "cerebras", "--out", dir + "/back.mdl"])
        #expect(b.status == 0, "\(b.stderr)")
        let c = try CLI.run(["convert", dir + "/back.mdl", "--to", "wafer", "--out", dir + "/w2.h5"])
        #expect(c.status == 0, "\(c.stderr)")
        let ra = try CheckpointReader(path: dir + "/w.h5"), rb = try CheckpointReader(path: dir + "/w2.h5")
        #expect(ra.tensors.map(\.key) == rb.tensors.map(\.key) && ra.tensors.count == 63)
        for t in ra.tensors { #expect(try ra.read(t.key) == rb.read(t.key), "\(t.key)") }
        // --tp applies to megatron targets only: a usage error.
        let bad = try CLI.run(["convert", dir + "/w.h5", "--to", "cerebras", "--tp", "2", "--out", dir + "/x.mdl"])
        #expect(bad.status == 2)
    }
}
