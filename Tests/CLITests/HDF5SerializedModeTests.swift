import CheckpointStore
import Foundation
import Testing

/// Item 4 of issue 9: with `CKPT_HDF5_SERIALIZE=1` (the mode ckpt picks by itself for a libhdf5
/// built without thread safety) every HDF5 call runs under ckpt's process-wide lock. The
/// commands that call HDF5 from several threads — synth (the chunk writer thread), convert (the
/// window loaders read sources in parallel while several writers write) and step — give
/// bit-identical results in both modes. The debug build asserts that every HDF5 handle is made
/// inside the lock in the serialised mode, so a call site outside it crashes these runs.
@Suite struct HDF5SerializedModeTests {
    static func run(_ args: [String], serialize: Bool) throws -> CLIResult {
        let r = try CLI.run(args, shellPrefix: "export CKPT_HDF5_SERIALIZE=\(serialize ? 1 : 0)")
        #expect(r.status == 0, "ckpt \(args.joined(separator: " ")) (serialised: \(serialize)): \(r.stderr)")
        return r
    }

    /// synth, wafer -> megatron tp2 pp2 -> wafer, verify; returns the three outputs.
    static func roundTrip(in dir: String, serialize: Bool) throws -> (src: String, megatron: String, back: String) {
        let src = dir + "/src.h5", meg = dir + "/meg", back = dir + "/back.h5"
        _ = try run(
            ["synth", "--preset", "tiny", "--layers", "4", "--optimizer", "adamw", "--seed", "11", "--chunk-mb", "0.004", "--out", src],
            serialize: serialize)
        _ = try run(["convert", src, "--to", "megatron", "--tp", "2", "--pp", "2", "--chunk-mb", "0.004", "--out", meg], serialize: serialize)
        _ = try run(["convert", meg, "--to", "wafer", "--out", back], serialize: serialize)
        _ = try run(["verify", back], serialize: serialize)
        return (src, meg, back)
    }

    @Test func serialisedModeGivesBitIdenticalResults() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for d in ["/lib", "/ser"] { try FileManager.default.createDirectory(atPath: dir + d, withIntermediateDirectories: true) }
        let lib = try Self.roundTrip(in: dir + "/lib", serialize: false)
        let ser = try Self.roundTrip(in: dir + "/ser", serialize: true)
        try ConvertCommandTests.expectSameCheckpoint(lib.src, ser.src)
        try ConvertCommandTests.expectSameCheckpoint(ser.src, ser.back)
        try ConvertCommandTests.expectSameCheckpoint(lib.back, ser.back)
        func rankFiles(_ d: String) -> [String] {
            ((FileManager.default.enumerator(atPath: d)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".h5") }.sorted()
        }
        #expect(rankFiles(lib.megatron).count == 4)
        #expect(rankFiles(lib.megatron) == rankFiles(ser.megatron))
        for rank in rankFiles(lib.megatron) {
            let a = try CheckpointReader(path: lib.megatron + "/" + rank), b = try CheckpointReader(path: ser.megatron + "/" + rank)
            #expect(a.tensors.map(\.key) == b.tensors.map(\.key))
            for t in a.tensors { #expect(try a.read(t.key).bytes == b.read(t.key).bytes, "\(rank) \(t.key)") }
        }
    }

    @Test func serialisedStepVerifiesLikeTheParallelOne() throws {
        let dir = CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = StepCommandTests.fixture + "/before.h5", batch = StepCommandTests.fixture + "/batch.h5", out = dir + "/after.h5"
        _ = try Self.run(["step", "--before", before, "--batch", batch, "--out", out], serialize: true)
        _ = try Self.run(["verify-step", "--before", before, "--after", out, "--batch", batch], serialize: true)
    }

    @Test func versionNamesTheHDF5AndItsMode() throws {
        let ser = try Self.run(["--version"], serialize: true)
        #expect(ser.stdout.contains("HDF5 \(HDF5Library.version)"))
        #expect(ser.stdout.contains("calls serialised by ckpt"))
        let lib = try Self.run(["--version"], serialize: false)
        #expect(lib.stdout.contains(HDF5Library.isThreadSafe ? "parallel calls" : "calls serialised by ckpt"))
    }
}
