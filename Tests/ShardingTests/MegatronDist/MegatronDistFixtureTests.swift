import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The torch_dist checkpoints megatron-core 0.16.1 wrote (Tests/Fixtures/interop/megatron-dist-*):
/// every model tensor and optimizer state of every (TP, PP) rank, read back from the global DCP
/// tensors, is what the library held in memory when it saved (expected.json, XXH3-64), for the
/// dp_reshardable (DP 2), fully_reshardable and non-distributed forms, stacked and per-layer keys.
@Suite struct MegatronDistFixtureTests {
    static let names = ["megatron-dist-gpt2-tp2pp2", "megatron-dist-llama-tp2pp2", "megatron-dist-llama-tp2pp2-fr", "megatron-dist-gpt2-tp2pp2-layers"]

    static func open(_ name: String) throws -> MegatronDistDirectory {
        try MegatronDistDirectory(path: InteropFixtures.root + "/" + name, interpreter: try LayoutInterpreter()) { (d: String) throws(ContainerError) in
            try DCPDistStore(directory: d)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let h = bytes.withUnsafeBytes { XXH3.hash($0) }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    @Test(arguments: names)
    func everyRankHoldsWhatTheLibraryHeld(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let d = try Self.open(name)
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        #expect(d.ranks.count == ranks.count)
        var checked = 0
        for (label, r) in ranks {
            let f = ShardFile(tpRank: try #require(r["tp_rank"] as? Int), ppRank: try #require(r["pp_rank"] as? Int))
            #expect(label == "tp\(f.tpRank)pp\(f.ppRank)")
            let rank = try #require(d.ranks[f])
            var expected: [TensorKey: [String: Any]] = [:]
            for (n, rec) in r["model"] as? [String: [String: Any]] ?? [:] { expected[.model(n)] = rec }
            for (state, group) in r["optimizer"] as? [String: [String: [String: Any]]] ?? [:] {
                for (n, rec) in group { expected[.optimizer(state, n)] = rec }
            }
            #expect(Set(rank.tensors.map(\.key)) == Set(expected.keys), "\(label)")
            for (key, rec) in expected {
                let t = try #require(rank.describe(key), "\(label) \(key)")
                #expect(t.dtype.rawValue == rec["dtype"] as? String && t.shape == rec["shape"] as? [Int], "\(label) \(key)")
                #expect(Self.hex(try rank.readAll(key)) == rec["xxh3_64"] as? String, "\(label) \(key)")
                checked += 1
            }
        }
        #expect(checked > 200)
    }

    @Test(arguments: names)
    func metadataIsTheRuns(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let d = try Self.open(name)
        var config = try JSONDecoder().decode(
            ModelConfig.self, from: JSONSerialization.data(withJSONObject: e["model_config"] as? [String: Any] ?? [:]))
        if name.contains("gpt2") { config.activation = "gelu" }  // megatron-core's exact GeLU (see MegatronArgsTests)
        #expect(d.modelConfig == config)
        #expect(d.metadata.step == 2 && d.shape == MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8))
        let form: MegatronDistOptimizerForm =
            name.hasSuffix("-fr") ? .fullyReshardable : name.hasSuffix("-layers") ? .nonDistributed : .dpReshardable
        #expect(d.optimizerForm == form)
        #expect(d.layerKeys == (name.hasSuffix("-layers") ? .perLayer : .stacked))
        let o = try #require(d.optimizerConfig)
        #expect(o.variant == "torch" && o.lr == 0.0009728616793536588 && o.weightDecay == 0.1 && o.gradClip == 1.0 && o.beta2 == 0.95)
        let blob = try #require(MegatronTorchMetadata.parse(userJSON: d.metadata.userJSON))
        #expect(blob.dataParallel == (form == .dpReshardable ? 2 : 1))
        let args = try #require(try blob.commonValue("args")?.value)
        #expect(args["ckpt_format"] == .string("torch_dist"))
        for f in d.shape.files {
            #expect(blob.ranks[f]?["rng_state"] != nil, "\(f)")
            let groups = try #require(try blob.rankValue(f, "optimizer")?.value["param_groups"]?.elements, "\(f)")
            #expect(groups.count == 2 && groups.allSatisfy { $0["lr"]?.doubleValue == o.lr }, "\(f)")
            // Every layer module's _extra_state item (None without Transformer Engine) rides along.
            guard case .object(let extra)? = blob.ranks[f]?["extra_state"] else {
                Issue.record("\(f): no extra_state")
                continue
            }
            #expect(extra.count == 4 * (config.layers / 2), "\(f)")
        }
        #expect(d.notes.contains { $0.contains("_extra_state items kept opaque") }, "\(d.notes)")
        #expect(!d.notes.contains { $0.contains("dropped") }, "\(d.notes)")
    }
}
