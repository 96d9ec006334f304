import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Conversions out of the torch_dist checkpoints megatron-core wrote, checked against what the
/// library held (expected.json's canonical fingerprints, computed by tools/interop_canonical.py
/// from the in-memory tensors) and against the source's own ranks, byte for byte.
@Suite struct MegatronDistConvertTests {
    let io = InteropConvertTests()

    func fingerprint(_ bytes: [UInt8]) -> String { MegatronDistFixtureTests.hex(bytes) }

    /// expected.json's canonical records by key.
    func expectedCanonical(_ name: String, modelOnly: Bool = false) throws -> [TensorKey: [String: Any]] {
        let e = try InteropFixtures.expected(name)
        let c = try #require(e["canonical"] as? [String: Any])
        var out: [TensorKey: [String: Any]] = [:]
        for (n, r) in c["model"] as? [String: [String: Any]] ?? [:] { out[.model(n)] = r }
        if !modelOnly {
            for (s, g) in c["optimizer"] as? [String: [String: [String: Any]]] ?? [:] {
                for (n, r) in g { out[.optimizer(s, n)] = r }
            }
        }
        return out
    }

    func matches(_ got: [TensorKey: [UInt8]], _ want: [TensorKey: [String: Any]]) -> [String] {
        var bad: [String] = []
        for k in Set(got.keys).union(want.keys).sorted() {
            guard let g = got[k], let w = want[k] else {
                bad.append("\(k): \(got[k] == nil ? "missing" : "not expected")")
                continue
            }
            if fingerprint(g) != w["xxh3_64"] as? String { bad.append("\(k): bytes differ") }
        }
        return bad
    }

    /// torch_dist TP2 x PP2 -> wafer: every canonical tensor and Adam state is the run's.
    @Test(arguments: MegatronDistFixtureTests.names)
    func throughWaferIsWhatTheRunHeld(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try io.convert(InteropFixtures.root + "/" + name, to: .wafer, dir + "/w.h5")
        let r = try CheckpointReader(path: dir + "/w.h5")
        var got: [TensorKey: [UInt8]] = [:]
        for t in r.tensors { got[t.key] = try r.read(t.key).bytes }
        let want = try expectedCanonical(name)
        #expect(want.keys.filter { $0.optimizerState == "exp_avg_sq" }.count > 20)
        #expect(matches(got, want) == [])
        #expect(r.metadata.step == 2)
    }

    /// torch_dist -> wafer (padding rows kept) -> megatron-torch at the source's TP x PP: the
    /// rank files hold exactly the tensors the torch_dist ranks held.
    @Test(arguments: MegatronDistFixtureTests.names)
    func throughWaferToMegatronTorchIsTheSourceRanks(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        _ = try io.convert(src, to: .wafer, dir + "/w.h5", vocab: 112)
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        _ = try io.convert(dir + "/w.h5", to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        let a = try io.tensors(src, vocab: 112), b = try io.tensors(dir + "/meg", vocab: 112)
        #expect(io.differences(a, b) == [])
        #expect(a.count > 200)
        let back = try MegatronTorchDirectory(path: dir + "/meg", vocab: 112)
        #expect(back.metadata.step == 2 && back.optimizerConfig != nil)
    }

    /// torch_dist -> hf: the model tensors are the run's; the optimizer state is dropped and said so.
    @Test(arguments: MegatronDistFixtureTests.names)
    func toHuggingFaceIsBitExact(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try io.convert(InteropFixtures.root + "/" + name, to: .hf, dir + "/hf")
        #expect(report.droppedSections.contains("optimizer/exp_avg"))
        #expect(matches(try io.canonical(dir + "/hf"), try expectedCanonical(name, modelOnly: true)) == [])
    }

    /// torch_dist TP2 x PP2 -> megatron-torch TP1 x PP1 directly: the TP merge of the global
    /// tensors keeps every canonical tensor, optimizer state included.
    @Test func reshardsDirectlyToMegatronTorch() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "megatron-dist-llama-tp2pp2"
        _ = try io.convert(
            InteropFixtures.root + "/" + name, to: .megatron(MegatronShape(tp: 1, pp: 1, vocabDivisibleBy: 8)),
            container: MegatronTorchFormats.containerFormat, dir + "/meg")
        #expect(matches(try io.canonical(dir + "/meg", vocab: 101, modelOnly: false), try expectedCanonical(name)) == [])
    }
}
