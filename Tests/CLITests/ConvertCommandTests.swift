import CheckpointStore
import Foundation
import Testing

/// End-to-end tests of `ckpt convert` through the built executable.
@Suite struct ConvertCommandTests {
    /// One synthetic model the round trips start from.
    struct Model: Sendable, CustomStringConvertible {
        var family: String
        var dtype: String
        var extra: [String]
        var description: String { "\(family) \(dtype)" }
    }

    static let models = [
        Model(family: "gpt2", dtype: "fp32", extra: []),
        Model(family: "llama", dtype: "bf16", extra: ["--kv-heads", "2"]),
    ]

    /// Rank directories of a TP2 x PP2 checkpoint, stage major.
    static let ranks22 = ["mp_rank_00_000", "mp_rank_01_000", "mp_rank_00_001", "mp_rank_01_001"]

    static func synth(_ m: Model, _ path: String) throws {
        let s = try CLI.run(
            [
                "synth", "--family", m.family, "--preset", "tiny", "--dtype", m.dtype, "--optimizer", "adamw",
                "--seed", "7", "--out", path,
            ] + m.extra)
        #expect(s.status == 0, "\(s.stderr)")
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    /// Asserts `a` and `b` hold the same tensors with byte-identical contents and the same metadata.
    static func expectSameCheckpoint(_ a: String, _ b: String) throws {
        let ra = try CheckpointReader(path: a), rb = try CheckpointReader(path: b)
        #expect(ra.tensors.map(\.key) == rb.tensors.map(\.key))
        #expect(!ra.tensors.isEmpty)
        for t in ra.tensors {
            let x = try ra.read(t.key), y = try rb.read(t.key)
            #expect(x.dtype == y.dtype, "\(t.key)")
            #expect(x.shape == y.shape, "\(t.key)")
            #expect(x.bytes == y.bytes, "\(t.key) differs after the round trip")
        }
        #expect(ra.metadata.step == rb.metadata.step)
        #expect(ra.metadata.modelConfig == rb.metadata.modelConfig)
        #expect(ra.metadata.optimizer == rb.metadata.optimizer)
        #expect(ra.metadata.rng == rb.metadata.rng)
        #expect(rb.metadata.layoutJSON.contains("wafer"))
    }

    @Test(arguments: models)
    func waferToMegatronToWaferIsBitExact(_ m: Model) throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.h5", meg = dir + "/meg", back = dir + "/back.h5"
        try Self.synth(m, src)

        let c = try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", meg, "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        let summary = try Self.json(c.stdout)
        #expect(summary["ok"] as? Bool == true)
        let report = try #require(summary["report"] as? [String: Any])
        #expect(report["files"] as? Int == 4)
        #expect(report["output_layout"] as? String == "megatron(tp=2, pp=2)")

        // Megatron's directory layout, and every rank file passes `ckpt verify`.
        let tracker = try String(contentsOfFile: meg + "/latest_checkpointed_iteration.txt", encoding: .utf8)
        #expect(tracker == "100\n")
        let iter = meg + "/iter_0000100"
        #expect(try FileManager.default.contentsOfDirectory(atPath: iter).sorted() == Self.ranks22.sorted())
        for r in Self.ranks22 {
            let f = iter + "/" + r + "/model_optim_rng.h5"
            let v = try CLI.run(["verify", f, "--json"])
            #expect(v.status == 0, "\(r): \(v.stdout)\(v.stderr)")
            let rank = try CheckpointReader(path: f)
            #expect(rank.metadata.layoutJSON.contains("\"kind\":\"megatron\""))
            #expect(rank.metadata.step == 100)
            #expect(rank.tensors.contains { $0.key.section == "optimizer/exp_avg_sq" })
        }
        // Rank files hold megatron names: the first stage has the (padded) word embeddings.
        let first = try CheckpointReader(path: iter + "/mp_rank_01_000/model_optim_rng.h5")
        let emb = try first.info(.model("embedding.word_embeddings.weight"))
        #expect(emb.shape == [128, 64])  // vocab 96 padded to 128 x 2 = 256, half per rank

        let w = try CLI.run(["convert", meg, "--to", "wafer", "--out", back, "--json"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(try Self.json(w.stdout)["ok"] as? Bool == true)
        try Self.expectSameCheckpoint(src, back)
        #expect(try CLI.run(["verify", back]).status == 0)
    }

    @Test func directReshardEqualsTheWaferRoute() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = Self.models[1]
        let src = dir + "/src.h5", meg = dir + "/meg", meg12 = dir + "/meg12", back = dir + "/back.h5"
        try Self.synth(m, src)
        #expect(try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", meg]).status == 0)
        // TP 2 -> 1 and PP 2 -> 1 at once, straight from the rank files (the iter_ directory works too).
        let r = try CLI.run(["convert", meg + "/iter_0000100", "--to", "megatron", "--tp", "1", "--pp", "1", "--out", meg12])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("megatron(tp=2, pp=2)"))
        #expect(FileManager.default.fileExists(atPath: meg12 + "/iter_0000100/mp_rank_00/model_optim_rng.h5"))
        #expect(try CLI.run(["convert", meg12, "--to", "wafer", "--out", back]).status == 0)
        try Self.expectSameCheckpoint(src, back)
    }

    @Test func missingRankExitsOneNamingTheRankFile() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.h5", meg = dir + "/meg", out = dir + "/out.h5"
        try Self.synth(Self.models[0], src)
        #expect(try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", meg]).status == 0)
        try FileManager.default.removeItem(atPath: meg + "/iter_0000100/mp_rank_01_001")
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()

        let r = try CLI.run(["convert", meg, "--to", "wafer", "--out", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("mp_rank_01_001/model_optim_rng.h5"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)

        let j = try CLI.run(["convert", meg, "--to", "wafer", "--out", out, "--json"])
        #expect(j.status == 1)
        let failure = try Self.json(j.stdout)
        #expect(failure["ok"] as? Bool == false)
        #expect((failure["error"] as? String)?.contains("mp_rank_01_001") == true)
    }

    @Test func badParallelSizesExitTwo() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.h5"
        try Self.synth(Self.models[0], src)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()

        let zero = try CLI.run(["convert", src, "--to", "megatron", "--tp", "0", "--pp", "1", "--out", dir + "/a"])
        #expect(zero.status == 2)
        #expect(zero.stderr.contains("--tp"))
        let noPP = try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--out", dir + "/b"])
        #expect(noPP.status == 2)
        // Tiny GPT-2 has 4 heads and 2 layers.
        let three = try CLI.run(["convert", src, "--to", "megatron", "--tp", "3", "--pp", "1", "--out", dir + "/c"])
        #expect(three.status == 2)
        #expect(three.stderr.contains("heads"), "\(three.stderr)")
        let pp3 = try CLI.run(["convert", src, "--to", "megatron", "--tp", "1", "--pp", "3", "--out", dir + "/d"])
        #expect(pp3.status == 2)
        #expect(pp3.stderr.contains("layers"), "\(pp3.stderr)")
        let tpToWafer = try CLI.run(["convert", src, "--to", "wafer", "--tp", "2", "--out", dir + "/e.h5"])
        #expect(tpToWafer.status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
    }

    @Test func existingOutputIsRefusedAndLeftUntouched() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.h5", meg = dir + "/meg", taken = dir + "/taken.h5"
        try Self.synth(Self.models[0], src)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: taken))
        let w = try CLI.run(["convert", src, "--to", "wafer", "--out", taken])
        #expect(w.status == 2)
        #expect(w.stderr.contains(taken) && w.stderr.contains("already exists"), "\(w.stderr)")
        #expect(try String(contentsOfFile: taken, encoding: .utf8) == "keep me")

        try FileManager.default.createDirectory(atPath: meg, withIntermediateDirectories: false)
        let m = try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "1", "--out", meg])
        #expect(m.status == 2)
        #expect(m.stderr.contains(meg), "\(m.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: meg).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["meg", "src.h5", "taken.h5"])
    }

    @Test func corruptRankFailsMidWayWithoutPartialOutput() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src.h5", meg = dir + "/meg"
        try Self.synth(Self.models[0], src)
        #expect(try CLI.run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--out", meg]).status == 0)
        // Damage a row-parallel weight of the last rank: validation of names, shapes and metadata
        // passes, and the failure comes while output is being written.
        let rank = meg + "/iter_0000100/mp_rank_01_001/model_optim_rng.h5"
        let name = "optimizer.exp_avg.decoder.layers.0.mlp.linear_fc2.weight"
        let chunks = try CheckpointReader(path: rank).chunkLocations(TensorKey(parsing: name))
        let c = try #require(chunks.first)
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: rank))
        try h.seek(toOffset: c.address + UInt64(c.size / 2))
        var b = try #require(try h.read(upToCount: 1))
        b[0] ^= 0x10
        try h.seek(toOffset: c.address + UInt64(c.size / 2))
        try h.write(contentsOf: b)
        try h.close()
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()

        for (target, out) in [(["--to", "wafer"], dir + "/out.h5"), (["--to", "megatron", "--tp", "1", "--pp", "1"], dir + "/out")] {
            let r = try CLI.run(["convert", meg] + target + ["--out", out])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("mp_rank_01_001") && r.stderr.contains("linear_fc2"), "\(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
        }
    }
}
