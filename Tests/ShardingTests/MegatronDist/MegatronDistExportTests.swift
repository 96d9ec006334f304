import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// `--to megatron-dist`: what ckpt writes is what megatron-core writes (the same keys, chunk
/// boxes and byte items as the fully_reshardable fixture at its TP x PP), reads back bit for
/// bit through the torch_dist reader, and round-trips through wafer files. That megatron-core
/// itself loads the output at other TP x PP is checked by tools/megatron_dist_load_check.py
/// (formats/megatron-dist.md has the runs).
@Suite struct MegatronDistExportTests {
    let io = InteropConvertTests()

    /// The fully_reshardable fixture re-exported at its own TP2 x PP2 (padding rows kept):
    /// every global tensor has the chunks megatron-core wrote, every byte item is there, and
    /// every tensor's bytes are equal.
    @Test func sameKeysChunksAndBytesAsMegatronCore() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "megatron-dist-llama-tp2pp2-fr"
        let src = InteropFixtures.root + "/" + name
        _ = try io.convert(
            src, to: .megatron(MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)), container: MegatronDistFormats.containerFormat, dir + "/out", vocab: 112)
        let theirs = try DCPCheckpoint(path: src + "/iter_0000002"), ours = try DCPCheckpoint(path: dir + "/out/iter_0000002")
        #expect(Set(ours.metadata.bytesItems.map(\.fqn)) == Set(theirs.metadata.bytesItems.map(\.fqn)))
        #expect(Set(ours.metadata.tensors.map(\.fqn)) == Set(theirs.metadata.tensors.map(\.fqn)))
        for t in theirs.metadata.tensors {
            let o = try #require(ours.entry(t.fqn), "\(t.fqn)")
            #expect(o.shape == t.shape && o.torchDType == t.torchDType, "\(t.fqn)")
            #expect(Set(o.chunks.map(\.box)) == Set(t.chunks.map(\.box)), "\(t.fqn)")
            #expect(try ours.readAll(.model(t.fqn)) == theirs.readAll(.model(t.fqn)), "\(t.fqn)")
        }
        #expect(theirs.metadata.tensors.count > 30)
        for item in theirs.metadata.bytesItems where item.fqn.contains("_extra_state") {
            #expect(try ours.bytesArchive(item.fqn).root == .list([.none]), "\(item.fqn)")
        }
        // The RNG states ride through the metadata: the same values, tensors byte for byte.
        func json(_ c: DCPCheckpoint, _ fqn: String) throws -> String {
            let a = try c.bytesArchive(fqn)
            var dropped: [String] = []
            return try PickleJSON.encode(
                a.root, tensorBytes: { t throws(ContainerError) in try MegatronTorchState.inlineBytes(t, source: a) }, dropped: &dropped
            ).text
        }
        for f in MegatronShape(tp: 2, pp: 2).files {
            let rng = "rng_state/shard_\(f.ppRank).\(f.tpRank)_2.2"
            #expect(try json(ours, rng) == json(theirs, rng), "\(rng)")
        }
        let text = try String(contentsOfFile: dir + "/out/iter_0000002/metadata.json", encoding: .utf8)
        #expect(text == (try String(contentsOfFile: src + "/iter_0000002/metadata.json", encoding: .utf8)))
        #expect((try? String(contentsOfFile: dir + "/out/latest_checkpointed_iteration.txt", encoding: .utf8)) == "2\n")
    }

    /// common.pt as megatron-core's load reads it: the fully_reshardable content metadata, the
    /// optimizer's param groups with the Adam step (no `params`), the run's scheduler and args.
    @Test func commonStateIsMegatronCores() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-dist-gpt2-tp2pp2"
        _ = try io.convert(src, to: .megatron(MegatronShape(tp: 1, pp: 2, vocabDivisibleBy: 8)), container: MegatronDistFormats.containerFormat, dir + "/out")
        let ours = try TorchArchive(path: dir + "/out/iter_0000002/common.pt").root
        let theirs = try TorchArchive(path: src + "/iter_0000002/common.pt").root
        #expect(ours["content_metadata"]?["distrib_optim_sharding_type"] == .string("fully_reshardable"))
        #expect(ours["content_metadata"]?["singleton_local_shards"] == .bool(false))
        #expect(ours["optimizer"]?["param_state_sharding_type"] == .string("fully_reshardable"))
        let groups = try #require(ours["optimizer"]?["optimizer"]?["param_groups"]?.elements)
        #expect(groups.count == 2 && groups.allSatisfy { $0["step"] == .float(2) && $0["params"] == nil })
        #expect(groups.map { $0["wd_mult"]?.doubleValue } == [1, 0])
        func sorted(_ v: PickleValue?) -> [String] { (v?.entries ?? []).map { "\($0.key) \($0.value)" }.sorted() }
        #expect(sorted(ours["opt_param_scheduler"]) == sorted(theirs["opt_param_scheduler"]))
        #expect(sorted(ours["opt_param_scheduler"]).count == 10)
        #expect(ours["iteration"] == .int(2) && ours["checkpoint_version"] == .float(3))
        let args = try #require(ours["args"])
        #expect(args["tensor_model_parallel_size"] == .int(1) && args["pipeline_model_parallel_size"] == .int(2))
        #expect(args["ckpt_format"] == .string("torch_dist") && args["use_distributed_optimizer"] == .bool(true))
        #expect(args["padded_vocab_size"] == .int(104) && args["dist_ckpt_optim_fully_reshardable"] == .bool(true))
        // A different TP x PP: no RNG states (megatron-core ignores them then anyway).
        #expect(try DCPCheckpoint(path: dir + "/out/iter_0000002").metadata.bytesItems.allSatisfy { !$0.fqn.hasPrefix("rng_state") })
    }

    /// torch_dist (dp_reshardable, DP 2) -> megatron-dist TP1 x PP1 -> wafer: the canonical
    /// tensors and Adam state are the source's, bit for bit; and wafer -> megatron-dist ->
    /// wafer gives the wafer file's tensors back.
    @Test(arguments: ["megatron-dist-gpt2-tp2pp2", "megatron-dist-llama-tp2pp2", "megatron-dist-gpt2-tp2pp2-layers"])
    func roundTripsBitExact(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        _ = try io.convert(src, to: .wafer, dir + "/a.h5")
        _ = try io.convert(dir + "/a.h5", to: .megatron(MegatronShape(tp: 1, pp: 1)), container: MegatronDistFormats.containerFormat, dir + "/d")
        _ = try io.convert(dir + "/d", to: .wafer, dir + "/b.h5")
        let a = try io.canonical(dir + "/a.h5", modelOnly: false), b = try io.canonical(dir + "/b.h5", modelOnly: false)
        #expect(a.keys.filter { $0.optimizerState == "master" }.count > 10)
        #expect(a == b)
        #expect(try io.canonical(src, modelOnly: false) == a)
        let back = try CheckpointReader(path: dir + "/b.h5")
        #expect(back.metadata.step == 2 && back.metadata.optimizer != nil)
    }

    /// A float32 model with Adam state: the `param` state of each parameter is written from its
    /// model tensor (through the spool), and reads back as the model tensor.
    @Test func float32ParametersWriteTheirParamState() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.llama, dtype: .float32, path: dir + "/w.h5")
        _ = try io.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 2)), container: MegatronDistFormats.containerFormat, dir + "/d")
        let c = try DCPCheckpoint(path: dir + "/d/iter_0001234")
        for t in c.metadata.tensors where !t.fqn.hasPrefix("optimizer.") {
            #expect(try c.readAll(.model("optimizer.state.param." + t.fqn)) == c.readAll(.model(t.fqn)), "\(t.fqn)")
        }
        _ = try io.convert(dir + "/d", to: .wafer, dir + "/b.h5")
        #expect(try io.canonical(dir + "/w.h5", modelOnly: false) == io.canonical(dir + "/b.h5", modelOnly: false))
    }
    /// The ranks share one DCP writer: one rank's abort drops every rank's data, no `.metadata`
    /// appears, and a new export into the same directory starts afresh.
    @Test func anAbortedRankDropsTheCheckpoint() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = TinyModels.llama
        let shape = MegatronShape(tp: 2, pp: 1)
        let interpreter = try LayoutInterpreter()
        let map = try interpreter.map(config, .megatron(shape))
        func writer(_ f: ShardFile) throws -> MegatronDistRankWriter {
            let manifest = map.tensors(in: f).map { ContainerTensor(key: .model($0.name), dtype: .bfloat16, shape: $0.shape) }
            return try MegatronDistRankWriter(
                path: dir + "/" + MegatronDistWritePlanner.dataFile(f, shape: shape), file: f, shape: shape, config: config,
                metadata: CheckpointMetadata(step: 1, modelConfig: config), manifest: manifest, interpreter: interpreter)
        }
        let a = try writer(ShardFile(tpRank: 0, ppRank: 0)), b = try writer(ShardFile(tpRank: 1, ppRank: 0))
        for t in map.tensors(in: ShardFile(tpRank: 0, ppRank: 0)) {
            let sink = try a.beginTensor(.model(t.name), dtype: .bfloat16, shape: t.shape)
            try [UInt8](repeating: 1, count: t.shape.reduce(1, *) * 2).withUnsafeBytes { try sink.append($0) }
            try sink.finish()
        }
        try a.commit()
        b.abort()
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(!left.contains(".metadata") && !left.contains(where: { $0.hasSuffix(".distcp") }), "\(left)")
        // A fresh writer for the same directory is a new checkpoint, not the aborted one.
        let c = try writer(ShardFile(tpRank: 0, ppRank: 0))
        c.abort()
    }
}
