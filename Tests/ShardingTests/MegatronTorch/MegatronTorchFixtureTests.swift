import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The checkpoints megatron-core 0.16.1 wrote (Tests/Fixtures/interop/megatron-*): every model
/// tensor and optimizer state of every rank is what the library held in memory when it saved
/// (expected.json, XXH3-64), and read -> write -> read gives the same tensors.
@Suite struct MegatronTorchFixtureTests {
    static let names = ["megatron-llama-tp2pp2", "megatron-gpt2-tp2pp2-dp2", "megatron-llama-tp2pp2-vpp2", "megatron-gpt2-tp1pp2-vpp2-dp2"]

    private func hex(_ bytes: [UInt8]) -> String {
        let h = bytes.withUnsafeBytes { XXH3.hash($0) }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    private func file(_ dir: String) -> ShardFile? {
        MegatronDirectory.parseRankDirectory(dir).map { ShardFile(tpRank: $0.tp, ppRank: $0.pp ?? 0) }
    }

    @Test(arguments: names)
    func everyRankHoldsWhatTheLibraryHeld(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let d = try MegatronTorchDirectory(path: InteropFixtures.root + "/" + name)
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        #expect(d.ranks.count == ranks.count)
        var checked = 0
        for (dir, r) in ranks {
            let rank = try #require(file(dir).flatMap { d.ranks[$0] })
            var expected: [TensorKey: [String: Any]] = [:]
            for (n, rec) in r["model"] as? [String: [String: Any]] ?? [:] { expected[.model(n)] = rec }
            for (state, group) in r["optimizer"] as? [String: [String: [String: Any]]] ?? [:] {
                for (n, rec) in group { expected[.optimizer(state, n)] = rec }
            }
            #expect(Set(rank.tensors.map(\.key)) == Set(expected.keys), "\(dir)")
            for (key, rec) in expected {
                let t = try #require(rank.describe(key), "\(dir) \(key)")
                #expect(t.dtype.rawValue == rec["dtype"] as? String && t.shape == rec["shape"] as? [Int], "\(dir) \(key)")
                #expect(hex(try rank.readAll(key)) == rec["xxh3_64"] as? String, "\(dir) \(key)")
                checked += 1
            }
            let extra = (r["extra_state_entries"] as? [String: String] ?? [:]).count
            #expect(rank.notes.contains { $0.hasPrefix("\(extra) _extra_state entries (None)") }, "\(rank.notes)")
            #expect(!rank.notes.contains { $0.contains("dropped") }, "\(rank.notes)")
        }
        #expect(checked > 200)
    }

    @Test(arguments: names)
    func metadataIsTheRunsAndEveryRankAgrees(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let d = try MegatronTorchDirectory(path: InteropFixtures.root + "/" + name)
        let config = try JSONDecoder().decode(
            ModelConfig.self, from: JSONSerialization.data(withJSONObject: e["model_config"] as? [String: Any] ?? [:]))
        #expect(d.modelConfig == config && d.vocabSource == .nullTokenizer)
        let a = try #require(e["args"] as? [String: Any])
        let shape = MegatronShape(
            tp: a["tensor_model_parallel_size"] as? Int ?? 0, pp: a["pipeline_model_parallel_size"] as? Int ?? 0,
            vpp: a["virtual_pipeline_model_parallel_size"] as? Int ?? 1, vocabDivisibleBy: 8)
        #expect(d.metadata.step == 2 && d.shape == shape && shape.vpp == (name.contains("vpp2") ? 2 : 1))
        let o = try #require(d.optimizerConfig)
        #expect(o.variant == "torch" && o.lr == 0.0009728616793536588 && o.weightDecay == 0.1 && o.gradClip == 1.0)
        let forms = Set(d.ranks.values.map(\.optimizerForm))
        #expect(forms == [name.contains("dp2") ? "distributed" : "float16"])
        let blob = try #require(MegatronTorchMetadata.parse(userJSON: d.metadata.userJSON))
        #expect(blob.dataParallel == (name.contains("dp2") ? 2 : 1))
        let args = try #require(try blob.commonValue("args")?.value)
        #expect(args["attention_backend"] != nil && args["params_dtype"] == TreeBuilder.torch("bfloat16"))
        for f in d.shape.files {
            #expect(blob.ranks[f]?["rng_state"] != nil, "\(f)")
        }
    }

    /// Each rank written back through `MegatronTorchRankWriter` (Megatron -> Megatron at the
    /// same TP x PP) reads back tensor for tensor, RNG and scheduler state included.
    @Test(arguments: names)
    func readWriteReadIsTheSame(name: String) throws {
        let d = try MegatronTorchDirectory(path: InteropFixtures.root + "/" + name)
        let out = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try export(d, to: out)
        let back = try MegatronTorchDirectory(path: out)
        #expect(back.modelConfig == d.modelConfig && back.metadata.step == d.metadata.step)
        #expect(back.optimizerConfig == d.optimizerConfig)
        for (f, rank) in d.ranks {
            let r = try #require(back.ranks[f])
            #expect(Set(r.tensors) == Set(rank.tensors), "\(f)")
            for t in rank.tensors { #expect(try r.readAll(t.key) == rank.readAll(t.key), "\(f) \(t.key)") }
            #expect(r.optimizerForm == "float16")
            #expect(r.state.rank["rng_state"]?.text == rank.state.rank["rng_state"]?.text, "\(f)")
            #expect(r.state.rank["extra_state"]?.text == rank.state.rank["extra_state"]?.text, "\(f)")
            #expect(r.state.rank["args"] == rank.state.rank["args"], "\(f)")
            for k in ["opt_param_scheduler", "checkpoint_version", "num_floating_point_operations_so_far", "iteration"] {
                #expect(r.state.common[k]?.text == rank.state.common[k]?.text, "\(f) \(k)")
            }
            // The args are the source's, but for the optimizer now being non-distributed.
            let changed = Set(r.args.attributes.map(\.key)).union(rank.args.attributes.map(\.key)).filter { k in
                r.args.attributes.last { $0.key == k }?.value != rank.args.attributes.last { $0.key == k }?.value
            }
            // ckpt adds its record of the unpadded vocabulary; the distributed optimizer becomes the
            // non-distributed form.
            let allowed: Set<PickleValue> =
                Set([.string(MegatronArgs.recordedVocabKey)] + (name.contains("dp2") ? [.string("use_distributed_optimizer")] : []))
            #expect(changed.isSubset(of: allowed), "\(f): \(changed)")
        }
    }

    /// Writes `d` to `out` with one `MegatronTorchRankWriter` per rank (the manifest in ckpt's
    /// own name order) and a tracker.
    func export(_ d: MegatronTorchDirectory, to out: String) throws {
        for (f, rank) in d.ranks.sorted(by: { $0.key < $1.key }) {
            let path = out + "/" + MegatronTorchDirectory.relativeModelPath(of: f, shape: d.shape, step: d.metadata.step)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let manifest = rank.tensors.sorted { $0.key < $1.key }
            let w = try MegatronTorchRankWriter(path: path, file: f, shape: d.shape, config: d.modelConfig, metadata: d.metadata, manifest: manifest)
            for t in manifest {
                let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
                try rank.readAll(t.key).withUnsafeBytes { try sink.append($0) }
                try sink.finish()
            }
            try w.commit()
            #expect(w.notes.isEmpty, "\(f): \(w.notes)")
        }
        try "\(d.metadata.step)\n".write(toFile: out + "/" + MegatronDirectory.trackerFile, atomically: true, encoding: .utf8)
    }
}

/// Writes the exports the real megatron-core loader checks (tools/interop_check.py megatron,
/// not part of `swift test`): `CKPT_INTEROP_OUT=/tmp/x swift test --filter exportsForTheRealLoader`
/// leaves `<name>` (same TP x PP, the source's metadata) and `<name>-fresh` (no Megatron
/// metadata: synthesised args, groups and scheduler, no RNG) under that directory.
@Suite struct MegatronTorchLoaderExports {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CKPT_INTEROP_OUT"] != nil), arguments: MegatronTorchFixtureTests.names)
    func exportsForTheRealLoader(name: String) throws {
        let root = try #require(ProcessInfo.processInfo.environment["CKPT_INTEROP_OUT"])
        let d = try MegatronTorchDirectory(path: InteropFixtures.root + "/" + name)
        try MegatronTorchFixtureTests().export(d, to: root + "/" + name)
        var fresh = d.metadata
        fresh.userJSON = nil
        let out = root + "/" + name + "-fresh"
        for (f, rank) in d.ranks.sorted(by: { $0.key < $1.key }) {
            let path = out + "/" + MegatronTorchDirectory.relativeModelPath(of: f, shape: d.shape, step: d.metadata.step)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let manifest = rank.tensors.sorted { $0.key < $1.key }
            let w = try MegatronTorchRankWriter(
                path: path, file: f, shape: d.shape, config: d.modelConfig, metadata: fresh, manifest: manifest,
                options: MegatronTorchExportOptions(tokenizerType: "NullTokenizer", dataParallel: 1))
            for t in manifest {
                let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
                try rank.readAll(t.key).withUnsafeBytes { try sink.append($0) }
                try sink.finish()
            }
            try w.commit()
        }
        try "\(d.metadata.step)\n".write(toFile: out + "/" + MegatronDirectory.trackerFile, atomically: true, encoding: .utf8)
    }
}
