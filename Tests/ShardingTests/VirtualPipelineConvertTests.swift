import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Conversions into and out of Megatron-LM virtual-pipeline checkpoints (`model0`, `model1`, ...
/// per rank file), against the fixtures Megatron-LM wrote with
/// `--num-layers-per-virtual-pipeline-stage 1` (Tests/Fixtures/interop/megatron-*-vpp2*).
@Suite struct VirtualPipelineConvertTests {
    let io = InteropConvertTests()
    static let llama = "megatron-llama-tp2pp2-vpp2"
    static let gpt2 = "megatron-gpt2-tp1pp2-vpp2-dp2"

    /// Through a wafer file and back to the source's shape, every rank file holds the source's
    /// tensors, names (chunk prefixes) and bytes, optimizer state included; the padding rows
    /// are kept by giving the padded vocabulary.
    @Test(arguments: [
        (llama, 112, MegatronShape(tp: 2, pp: 2, vpp: 2, vocabDivisibleBy: 8)), (gpt2, 104, MegatronShape(tp: 1, pp: 2, vpp: 2, vocabDivisibleBy: 8)),
    ])
    func throughWaferEqualsTheSourceRankFiles(name: String, padded: Int, shape: MegatronShape) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + name
        _ = try io.convert(src, to: .wafer, dir + "/w.h5", vocab: padded)
        let report = try io.convert(dir + "/w.h5", to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        #expect(report.outputLayout.contains("vpp=2"))
        let a = try io.tensors(src, vocab: padded), b = try io.tensors(dir + "/meg", vocab: padded)
        #expect(io.differences(a, b) == [])
        #expect(a.keys.contains { $0.contains("optimizer.exp_avg_sq.model1.decoder.layers.0.") })
        #expect(a.keys.filter { $0.contains("optimizer.master.") }.count == a.keys.filter { $0.contains("optimizer.exp_avg.") }.count)
    }

    /// gpt2 (tied embeddings, distributed optimizer) from TP1 x PP2 x VPP2 to TP2 x PP4, to ckpt's
    /// HDF5 rank files at TP1 x PP2 x VPP2, to TP2 x PP2 x VPP2 and to a wafer file: every
    /// canonical tensor, Adam moments and masters included, is the source's at every hop.
    @Test func reshardsAcrossTPPPAndVPPBitExact() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/" + Self.gpt2
        let torch = MegatronTorchFormats.containerFormat
        let source = try io.canonical(src, modelOnly: false)
        #expect(source.count > 250)
        _ = try io.convert(src, to: .megatron(MegatronShape(tp: 2, pp: 4, vocabDivisibleBy: 8)), container: torch, dir + "/a")
        _ = try io.convert(dir + "/a", to: .megatron(MegatronShape(tp: 1, pp: 2, vpp: 2, vocabDivisibleBy: 8)), dir + "/b")
        _ = try io.convert(dir + "/b", to: .megatron(MegatronShape(tp: 2, pp: 2, vpp: 2, vocabDivisibleBy: 8)), container: torch, dir + "/c")
        _ = try io.convert(dir + "/c", to: .wafer, dir + "/d.h5")
        for hop in ["a", "b", "c", "d.h5"] {
            #expect(try io.canonical(dir + "/" + hop, vocab: 101, modelOnly: false) == source, "\(hop)")
        }
        // ckpt's own HDF5 rank files record the virtual pipeline in their layout.
        let rank = try CheckpointReader(path: dir + "/b/iter_0000002/mp_rank_00_001/model_optim_rng.h5")
        let layout = try MegatronRankLayout.parse(rank.metadata.layoutJSON, path: "b")
        #expect(layout.vpp == 2 && layout.firstLayer == 1 && layout.layersPerStage == 2)
        #expect(rank.tensors.contains { $0.key == .model("model1.output_layer.weight") })
        #expect(rank.tensors.contains { $0.key == .optimizer("exp_avg", "model0.decoder.layers.0.mlp.linear_fc1.bias") })
    }

    /// A checkpoint without a virtual pipeline exported with one has, rank for rank, the
    /// structure Megatron-LM itself saved for the same model with `--num-layers-per-virtual-
    /// pipeline-stage 1`: the chunk state dicts with their keys in order, dtypes and shapes, the
    /// optimizer's parameter indices per group, the per-index state shapes and the fp32 masters;
    /// and the args record the virtual pipeline.
    @Test func nonVirtualToVirtualHasTheStructureMegatronSaves() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = InteropFixtures.root + "/megatron-llama-tp2pp2"
        let shape = MegatronShape(tp: 2, pp: 2, vpp: 2, vocabDivisibleBy: 8)
        _ = try io.convert(src, to: .megatron(shape), container: MegatronTorchFormats.containerFormat, dir + "/meg")
        #expect(try io.canonical(dir + "/meg", modelOnly: false) == io.canonical(src, modelOnly: false))
        let real = InteropFixtures.root + "/" + Self.llama
        for f in shape.files {
            let rel = "iter_0000002/\(shape.rankDirectoryName(f))/model_optim_rng.pt"
            let mine = try TorchArchive(path: dir + "/meg/" + rel).root, theirs = try TorchArchive(path: real + "/" + rel).root
            #expect(Self.structure(mine) == Self.structure(theirs), "\(f)")
            let lines = Self.structure(theirs)
            #expect(lines.contains { $0.hasPrefix("model1 decoder.layers.0.mlp.linear_fc2.weight") })
            #expect(lines.filter { $0.hasPrefix("group ") }.count == 2 && lines.filter { $0.hasPrefix("state ") }.count >= 13)
            let args = try #require(mine["args"])
            #expect(args["virtual_pipeline_model_parallel_size"] == .int(2) && args["num_layers_per_virtual_pipeline_stage"] == .int(1))
            #expect(args["overlap_p2p_comm"] == .bool(true))
        }
        let back = try MegatronTorchDirectory(path: dir + "/meg")
        #expect(back.shape == shape && back.ranks.count == 4)
    }

    /// The rank file's layout, one line per item: the root keys (without the RNG state, which
    /// an export across shapes does not carry), each chunk's state-dict keys in order with dtype
    /// and shape, the optimizer's groups (indices, masters' shapes) and state shapes by index.
    static func structure(_ root: PickleValue) -> [String] {
        func describe(_ v: PickleValue) -> String {
            if case .tensor(let t) = v { return "\(t.dtypeName)\(t.shape)" }
            return v == .none ? "None" : "other"
        }
        var out: [String] = []
        for e in root.entries ?? [] {
            guard case .string(let k) = e.key, k != "rng_state" else { continue }
            out.append("key \(k)")
            if k.hasPrefix("model") {
                for m in e.value.stateDictEntries ?? [] {
                    if case .string(let n) = m.key { out.append("\(k) \(n) \(describe(m.value))") }
                }
            }
        }
        let o = root["optimizer"]
        for (g, group) in (o?["optimizer"]?["param_groups"]?.elements ?? []).enumerated() {
            out.append("group \(g) wd_mult \(group["wd_mult"]?.doubleValue ?? -1) params \(group["params"]?.elements ?? [])")
        }
        for (g, list) in (o?["fp32_from_fp16_params"]?.elements ?? []).enumerated() {
            out.append("masters \(g) \((list.elements ?? []).map(describe))")
        }
        for e in o?["optimizer"]?["state"]?.entries ?? [] {
            out.append("state \(e.key) \(describe(e.value["exp_avg"] ?? .none)) \(describe(e.value["exp_avg_sq"] ?? .none))")
        }
        return out
    }
}
