import CheckpointStore
import Foundation
import Testing

/// `ckpt convert --vpp`: Megatron-LM virtual-pipeline checkpoints through the built executable.
@Suite struct VirtualPipelineCLITests {
    static let fixture = CLIFixtures.repo + "/Tests/Fixtures/interop/megatron-llama-tp2pp2-vpp2"

    /// The Megatron-LM VPP fixture to wafer, to megatron-torch at another TP with VPP 2, to
    /// ckpt's HDF5 rank files with VPP 2, and back to wafer: the same tensors, bit for bit; `info`
    /// names the virtual pipeline.
    @Test func virtualPipelineRoundTripsThroughTheCommandLine() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CLI.run(["convert", Self.fixture, "--to", "wafer", "--out", dir + "/a.h5"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try CLI.run(["convert", dir + "/a.h5", "--to", "megatron-torch", "--tp", "1", "--pp", "2", "--vpp", "2", "--out", dir + "/mlm"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("megatron(tp=1, pp=2, vpp=2)"), "\(r.stdout)")
        let info = try CLIFixtures.json(try CLI.run(["info", dir + "/mlm", "--json"]))
        let layout = try #require(info["layout"] as? [String: Any])
        #expect(layout["vpp"] as? Int == 2 && layout["pp"] as? Int == 2 && layout["tp"] as? Int == 1)
        r = try CLI.run(["convert", dir + "/mlm", "--to", "megatron", "--tp", "2", "--pp", "2", "--vpp", "2", "--out", dir + "/h5"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try CLI.run(["convert", dir + "/h5", "--to", "wafer", "--out", dir + "/b.h5"])
        #expect(r.status == 0, "\(r.stderr)")
        try ConvertCommandTests.expectSameCheckpoint(dir + "/a.h5", dir + "/b.h5")
        r = try CLI.run(["get", dir + "/mlm", "model1.decoder.layers.0.mlp.linear_fc2.weight", "--rank", "tp0pp1", "--out", dir + "/w.npy"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Shapes Megatron-LM cannot build are refused before any work, naming the flag or the
    /// reason (exit 2).
    @Test(arguments: [
        (["--tp", "1", "--pp", "2", "--vpp", "3"], "virtual pipeline size 3"),
        (["--tp", "1", "--pp", "1", "--vpp", "2"], "--vpp 2 needs --pp > 1"),
        (["--tp", "1", "--pp", "2", "--vpp", "0"], "--vpp"),
    ])
    func impossibleVirtualPipelinesAreRefused(flags: [String], message: String) throws {
        let dir = CLI.tempDir("vpp" + flags.joined())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["convert", Self.fixture, "--to", "megatron-torch"] + flags + ["--out", dir + "/out"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        let wafer = try CLI.run(["convert", Self.fixture, "--to", "wafer", "--vpp", "2", "--out", dir + "/w.h5"])
        #expect(wafer.status == 2 && wafer.stderr.contains("--vpp applies only to --to megatron"), "\(wafer.stderr)")
    }
}
