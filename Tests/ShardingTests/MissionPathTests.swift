import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Issue 11's mission path, each direction from a fixture the real library wrote, read back and
/// compared with what that library held in memory (expected.json's canonical fingerprints),
/// Adam state included:
///
/// - Megatron `torch_dist` TP2 x PP2 -> `cerebras`, directly;
/// - `cerebras` -> `megatron-dist` TP4 x PP1 (GPT-2, and LLaMA: 4 heads in 2 KV groups, more
///   ranks than groups) — megatron-core loads it: `tools/megatron_dist_load_check.py
///   --cerebras-expected`, run by hand, `formats/megatron-dist.md`;
/// - `cerebras` -> `megatron-torch` at two TP x PP;
/// - `torch_dist` -> `hf` (the tensors: `MegatronDistConvertTests.toHuggingFaceIsBitExact`; here
///   what it drops);
/// - and the chain `torch_dist` -> `cerebras` -> `megatron-dist` -> wafer.
///
/// cstorch's AdamW keeps the moments in the parameter's dtype (bf16 in the fixtures) and no
/// master; megatron-core keeps float32 moments and masters. Into Megatron the moments are
/// widened and the masters made from the parameters (exact; said in notes), so a Megatron
/// output is compared with the Cerebras fixture after narrowing back, which must be exact.
@Suite struct MissionPathTests {
    let io = InteropConvertTests()

    static let distFixtures = MegatronDistFixtureTests.names
    static let cerebrasFixtures = ["cerebras-gpt2", "cerebras-llama"]

    static let megatronStateNote = "Megatron-LM state (args, opt_param_scheduler, RNG states, _extra_state, param groups) not written: "
    /// What every conversion of a Cerebras fixture into Megatron-LM's formats says.
    static let cerebrasToMegatronNotes = [
        "optimizer state widened from bfloat16 to float32 (exact): Megatron checkpoints keep Adam moments in float32",
        "fp32 master weights made from the bfloat16 parameters (exact; the source holds none), as megatron-core makes them from a model",
        "the .mdl's other leaves (cstorch's beta powers, schedulers, lr, Model Zoo's __metadata__) not written: Megatron checkpoints have no place for it",
        "opt_param_scheduler synthesised (constant LR): load with --override-opt_param-scheduler",
        "no rng_state (none in the source): load with --no-load-rng",
    ]

    func mdl(_ name: String) throws -> String {
        InteropFixtures.root + "/" + name + "/" + (try InteropFixtures.expected(name)["file"] as? String ?? "")
    }

    /// Megatron torch_dist TP2 x PP2 (dp_reshardable DP 2, fully_reshardable, non-distributed) -> .mdl in one
    /// conversion: every canonical weight, exp_avg, exp_avg_sq and fp32 master is what
    /// megatron-core held; global_step and cstorch's beta powers follow the Adam step.
    @Test(arguments: distFixtures)
    func torchDistToCerebrasCarriesTheRunsAdamState(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try io.convert(InteropFixtures.root + "/" + name, to: CheckpointLayout(kind: .cerebras), dir + "/m.mdl")
        #expect(report.droppedSections.isEmpty && report.files == 1)
        #expect(report.notes == [Self.megatronStateNote + "Cerebras checkpoints have no place for it"])
        let want = try MissionRecords.megatron(name)
        #expect(want.records.keys.filter { $0.optimizerState == "master" }.count == want.records.keys.filter(\.isModel).count)
        #expect(try MissionRecords.read(dir + "/m.mdl").0.differences(from: want) == [])
        let f = try CerebrasMDLFile(path: dir + "/m.mdl")
        #expect(f.leaf("global_step")?.kind == .scalar(.int(2)))
        // Both runs used betas (0.9, 0.95) and stopped after step 2: cstorch's own powers.
        let real = try CerebrasMDLFile(path: try mdl("cerebras-gpt2"))
        for p in ["beta1_power", "beta2_power"] {
            let ours = try #require(f.leaf("optimizer.state.0.\(p)")), theirs = try #require(real.leaf("optimizer.state.0.\(p)"))
            #expect(try f.readLeaf(ours) == real.readLeaf(theirs), "\(p)")
        }
    }

    /// The GPT-2 .mdl's optimizer indices, resolved by Model Zoo's own parameter order (the
    /// cerebras-gpt2 fixture's, same architecture) rather than ckpt's table: index i holds the
    /// moments megatron-core held for parameter order[i].
    @Test func torchDistToCerebrasIndexesStateInModelZoosOrder() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try io.convert(InteropFixtures.root + "/megatron-dist-gpt2-tp2pp2", to: CheckpointLayout(kind: .cerebras), dir + "/m.mdl")
        // Model Zoo name -> canonical name, by the fixture's own fingerprints (every tensor distinct).
        let e = try InteropFixtures.expected("cerebras-gpt2")
        let order = try #require(e["parameter_order"] as? [String])
        let tensors = try #require(e["tensors"] as? [String: [String: Any]])
        var canonicalByPrint: [String: String] = [:]
        for (n, r) in try MissionRecords.cerebras("cerebras-gpt2").records where n.isModel { canonicalByPrint[r.xxh3] = n.name }
        let want = try MissionRecords.megatron("megatron-dist-gpt2-tp2pp2").records
        let f = try CerebrasMDLFile(path: dir + "/m.mdl")
        for (i, zooName) in order.enumerated() {
            let print = try #require(tensors["model." + zooName]?["xxh3_64"] as? String, "\(zooName)")
            let canonical = try #require(canonicalByPrint[print], "\(zooName)")
            for state in ["exp_avg", "exp_avg_sq", "master"] {
                let leaf = try #require(f.leaf("optimizer.state.\(i).\(state)"), "index \(i) \(state)")
                #expect(MissionRecords.hex(try f.readLeaf(leaf)) == want[.optimizer(state, canonical)]?.xxh3, "index \(i) \(state): \(canonical)")
            }
        }
        #expect(order.count == 36)
    }

    /// Cerebras .mdl -> megatron-dist at the largest TP the model allows (TP4 x PP1: 4 heads;
    /// LLaMA's 2 KV groups are cut over the 4 ranks) -> read back: cstorch's model tensors
    /// and moments exactly, the masters their parameters, the Adam step 2.
    @Test(arguments: [("cerebras-gpt2", 4), ("cerebras-llama", 4)])
    func cerebrasToMegatronDistAtTheLargestTP(name: String, tp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = CheckpointLayout.megatron(MegatronShape(tp: tp, pp: 1))
        let report = try io.convert(try mdl(name), to: target, container: MegatronDistFormats.containerFormat, dir + "/d")
        #expect(report.notes == Self.cerebrasToMegatronNotes)
        #expect(report.files == tp && report.droppedSections.isEmpty)
        try expectCerebrasState(name, readBack: dir + "/d")
        let d = try MegatronDistDirectory(path: dir + "/d", interpreter: try LayoutInterpreter()) { (p: String) throws(ContainerError) in
            try DCPDistStore(directory: p)
        }
        #expect(d.shape.tp == tp && d.optimizerForm == .fullyReshardable && d.metadata.step == 2)
        let groups = try #require(try TorchArchive(path: dir + "/d/iter_0000002/common.pt").root["optimizer"]?["optimizer"]?["param_groups"]?.elements)
        #expect(groups.count == 2 && groups.allSatisfy { $0["step"] == .float(2) })
        // Beyond the heads: refused.
        #expect(throws: ShardingError.self) {
            _ = try io.convert(
                try mdl(name), to: .megatron(MegatronShape(tp: 8, pp: 1)), container: MegatronDistFormats.containerFormat, dir + "/tp8")
        }
    }

    /// Cerebras .mdl -> megatron-torch at TP2 x PP2 and another grid -> read back the same way;
    /// every rank's param groups carry the Adam step.
    @Test(arguments: [("cerebras-gpt2", 2, 2), ("cerebras-gpt2", 4, 2), ("cerebras-llama", 2, 2), ("cerebras-llama", 1, 1)])
    func cerebrasToMegatronTorch(name: String, tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shape = MegatronShape(tp: tp, pp: pp)
        let report = try io.convert(try mdl(name), to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/t")
        #expect(report.notes == Self.cerebrasToMegatronNotes)
        #expect(report.files == tp * pp)
        try expectCerebrasState(name, readBack: dir + "/t")
        let back = try MegatronTorchDirectory(path: dir + "/t")
        #expect(back.shape == shape && back.metadata.step == 2)
        let blob = try #require(MegatronTorchMetadata.parse(userJSON: back.metadata.userJSON))
        for f in shape.files {
            let groups = try #require(try blob.rankValue(f, "optimizer")?.value["param_groups"]?.elements, "\(f)")
            #expect(groups.count == 2 && groups.allSatisfy { $0["step"]?.doubleValue == 2 }, "\(f)")
        }
    }

    /// torch_dist -> hf drops the optimizer state and the Megatron-LM state, and says so; the
    /// model tensors are the run's (`MegatronDistConvertTests.toHuggingFaceIsBitExact`).
    @Test(arguments: distFixtures)
    func torchDistToHuggingFaceSaysWhatItDrops(name: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try io.convert(InteropFixtures.root + "/" + name, to: .hf, dir + "/hf")
        #expect(report.droppedSections == ["optimizer/exp_avg", "optimizer/exp_avg_sq", "optimizer/master"])
        #expect(
            report.notes == ["optimizer state dropped: HF checkpoints hold none", Self.megatronStateNote + "HF checkpoints have no place for it"])
        let model = try MissionRecords.megatron(name).records.filter { $0.key.isModel }
        #expect(try MissionRecords.read(dir + "/hf").0.differences(from: MissionRecords(records: model)) == [])
    }

    /// torch_dist TP2 x PP2 -> .mdl -> megatron-dist (GPT-2 TP4 x PP1, LLaMA TP2 x PP1) ->
    /// wafer: every canonical tensor and Adam state is the source's, byte for byte (float32
    /// all the way: nothing is widened), and what megatron-core held.
    @Test(arguments: [("megatron-dist-gpt2-tp2pp2", 4), ("megatron-dist-llama-tp2pp2", 2)])
    func torchDistThroughCerebrasAndBackToMegatron(name: String, tp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        _ = try io.convert(src, to: CheckpointLayout(kind: .cerebras), dir + "/m.mdl")
        let hop = try io.convert(dir + "/m.mdl", to: .megatron(MegatronShape(tp: tp, pp: 1)), container: MegatronDistFormats.containerFormat, dir + "/d")
        #expect(hop.notes == Array(Self.cerebrasToMegatronNotes.dropFirst(2)))
        _ = try io.convert(dir + "/d", to: .wafer, dir + "/w.h5")
        let (got, bytes) = try MissionRecords.read(dir + "/w.h5")
        #expect(got.differences(from: try MissionRecords.megatron(name)) == [])
        #expect(try bytes == io.canonical(src, modelOnly: false))
        let w = try CheckpointReader(path: dir + "/w.h5")
        #expect(w.metadata.step == 2 && w.metadata.modelConfig?.vocab == 101)
    }

    /// The Cerebras fixture's canonical records against a Megatron output read back: model
    /// tensors as they are, every moment narrowed exactly, every parameter with a master equal
    /// to it.
    func expectCerebrasState(_ name: String, readBack path: String) throws {
        let (got, bytes) = try MissionRecords.read(path)
        let models = got.records.keys.filter(\.isModel)
        #expect(got.records.keys.filter { $0.optimizerState == "master" }.count == models.count, "\(name): a master per parameter")
        let (narrowed, inexact) = MissionRecords.narrowedFromMegatron(got, bytes)
        #expect(inexact == [], "\(name)")
        let want = try MissionRecords.cerebras(name)
        #expect(want.records.keys.filter { $0.optimizerState == "exp_avg_sq" }.count == models.count)
        #expect(narrowed.differences(from: want) == [], "\(name)")
    }
}
