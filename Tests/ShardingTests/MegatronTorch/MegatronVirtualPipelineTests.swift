import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Megatron-LM's virtual pipeline (`--num-layers-per-virtual-pipeline-stage`): which layers each
/// model chunk holds, the chunk-prefixed names, the optimizer's parameter order over chunks and
/// the distributed optimizer's buffers per chunk, against megatron-core 0.16.1's own formulas
/// and the fixtures it wrote (Tests/Fixtures/interop/megatron-*-vpp2*).
@Suite struct MegatronVirtualPipelineTests {
    static let llama = "megatron-llama-tp2pp2-vpp2"
    static let gpt2 = "megatron-gpt2-tp1pp2-vpp2-dp2"

    static func model(_ family: String, layers: Int) -> ModelConfig {
        ModelConfig(family: family, layers: layers, hidden: 32, heads: 4, kvHeads: family == "llama" ? 2 : nil, vocab: 100, maxSeq: 16)
    }

    /// megatron-core's `get_transformer_layer_offset` (PP > 1, VPP set, even stages): model
    /// chunk c of stage s starts at global layer c * L/VPP + s * L/(PP*VPP). Written from the
    /// formula, not from `MegatronShape`.
    static func megatronOffset(layers: Int, pp: Int, vpp: Int, stage: Int, chunk: Int) -> Int {
        chunk * (layers / vpp) + stage * (layers / pp / vpp)
    }

    @Test(arguments: [(2, 2, 4), (2, 2, 8), (4, 2, 16), (3, 3, 9), (2, 4, 8)])
    func everyLayerIsInTheChunkMegatronBuildsItIn(pp: Int, vpp: Int, layers: Int) throws {
        let shape = MegatronShape(tp: 2, pp: pp, vpp: vpp, vocabDivisibleBy: 8)
        let map = try LayoutInterpreter().map(Self.model("gpt2", layers: layers), .megatron(shape))
        var seen = Set<Int>()
        for s in 0..<pp {
            for c in 0..<vpp {
                for j in 0..<layers / (pp * vpp) {
                    let name = "model\(c).decoder.layers.\(j).input_layernorm.weight"
                    let t = try #require(map.tensors(in: ShardFile(tpRank: 1, ppRank: s)).first { $0.name == name }, "stage \(s) \(name)")
                    let i = Self.megatronOffset(layers: layers, pp: pp, vpp: vpp, stage: s, chunk: c) + j
                    #expect(t.canonicalNames == ["layers.\(i).attn_norm.weight"], "stage \(s) \(name)")
                    #expect(shape.placement(ofLayer: i, layers: layers) == (s, c, j))
                    seen.insert(i)
                }
            }
        }
        #expect(seen == Set(0..<layers))
        // Every stored name carries a chunk prefix; pre_process / post_process chunks hold the
        // embedding and the head.
        #expect(map.allTensors.allSatisfy { $0.name.hasPrefix("model") && Int($0.name.dropFirst(5).prefix { $0 != "." }) != nil })
        let first = map.tensors(in: ShardFile(tpRank: 0, ppRank: 0)).map(\.name)
        let last = map.tensors(in: ShardFile(tpRank: 0, ppRank: pp - 1)).map(\.name)
        #expect(first.contains("model0.embedding.word_embeddings.weight") && first.contains("model0.embedding.position_embeddings.weight"))
        #expect(last.contains("model\(vpp - 1).decoder.final_layernorm.weight"))
        #expect(last.contains("model\(vpp - 1).output_layer.weight"))  // the tied copy (PP > 1)
        #expect(map.allTensors.filter { $0.name.hasSuffix("embedding.word_embeddings.weight") }.count == 2)
        let layout = try MegatronRankLayout.parse(
            CheckpointLayout.megatron(shape).layoutJSON(for: ShardFile(tpRank: 1, ppRank: pp - 1), config: Self.model("gpt2", layers: layers)),
            path: "x")
        #expect(layout.shape == shape && layout.firstLayer == (pp - 1) * layers / (pp * vpp))
    }

    @Test func withoutAVirtualPipelineNamesAndLayoutJSONAreUnchanged() throws {
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        let c = Self.model("llama", layers: 4)
        let map = try LayoutInterpreter().map(c, .megatron(shape))
        #expect(map.tensors(in: ShardFile(tpRank: 0, ppRank: 1)).first?.name == "decoder.layers.0.input_layernorm.weight")
        #expect(!CheckpointLayout.megatron(shape).layoutJSON(for: ShardFile(tpRank: 0, ppRank: 1), config: c).contains("vpp"))
        #expect(CheckpointLayout.megatron(shape).description == "megatron(tp=2, pp=2)")
        #expect(CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 2, vpp: 2)).description == "megatron(tp=2, pp=2, vpp=2)")
    }

    @Test func impossibleVirtualPipelinesAreRefused() throws {
        let interpreter = try LayoutInterpreter()
        let c = Self.model("gpt2", layers: 6)
        func reason(_ shape: MegatronShape) -> String? {
            do {
                _ = try interpreter.map(c, .megatron(shape))
                return nil
            } catch { return error.description }
        }
        #expect(reason(MegatronShape(tp: 1, pp: 2, vpp: 2))?.contains("do not divide the number of layers (6)") == true)
        #expect(reason(MegatronShape(tp: 1, pp: 1, vpp: 2))?.contains("needs pipeline-parallel size > 1") == true)
        #expect(reason(MegatronShape(tp: 1, pp: 2, vpp: 0))?.contains("at least 1") == true)
        #expect(reason(MegatronShape(tp: 1, pp: 2, vpp: 3)) == nil)
        // A layout table that names no chunks cannot hold them.
        var doc = try #require(LayoutCatalog.bundled().documents["megatron"])
        doc.families["gpt2"]?.chunkPrefix = nil
        let plain = LayoutInterpreter(catalog: LayoutCatalog(documents: [doc]))
        #expect(throws: ShardingError.self) { try plain.map(c, .megatron(MegatronShape(tp: 1, pp: 2, vpp: 3))) }
        #expect(try plain.map(c, .megatron(MegatronShape(tp: 1, pp: 2))).allTensors.count > 0)
    }

    /// The optimizer numbers the parameters of all model chunks: group 0 the decayed ones of
    /// chunk 0 then chunk 1, group 1 likewise (`_get_param_groups` over `model_chunks`), as the
    /// llama fixture's optimizer held them.
    @Test func optimizerIndicesRunOverTheChunksInOrder() throws {
        let e = try InteropFixtures.expected(Self.llama)
        let d = try MegatronTorchDirectory(path: InteropFixtures.root + "/" + Self.llama)
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        #expect(ranks.count == 4)
        for (dir, r) in ranks {
            let (t, p) = try #require(MegatronDirectory.parseRankDirectory(dir))
            let rank = try #require(d.ranks[ShardFile(tpRank: t, ppRank: p ?? 0)])
            let params = rank.tensors.filter(\.key.isModel).map { MegatronParamGroups.Param(name: $0.key.name, shape: $0.shape, dtype: $0.dtype) }
            #expect(params.first?.name.hasPrefix("model0.") == true && params.last?.name.hasPrefix("model1.") == true, "\(dir)")
            let recorded = try #require(r["optimizer_param_order"] as? [[String]])
            #expect(MegatronParamGroups(params: params).groups.map { $0.map(\.name) } == recorded, "\(dir)")
            #expect(rank.optimizerForm == "float16")
        }
    }

    /// One buffer per model chunk, chunk 0 bucketed (overlap_grad_reduce, bucket size 4000) on
    /// stage 0 only, later chunks with `disable_bucketing`, the tied embedding and output layer
    /// in the first and last chunk: the walk reproduces the buffers megatron-core built.
    @Test func distributedBuffersOfEveryChunkAreReproduced() throws {
        let e = try InteropFixtures.expected(Self.gpt2)
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        #expect(ranks.count == 2)
        var bucketsPerBuffer: [[Int]] = []
        for (dir, r) in ranks.sorted(by: { $0.key < $1.key }) {
            let pp = try #require(r["pp_rank"] as? Int)
            let model = try #require(r["model"] as? [String: [String: Any]])
            let buffers = try #require(r["grad_buffers"] as? [[String: Any]])
            var chunks: [[DistribOptimLayout.Param]] = []
            for c in 0..<2 {
                let gb = try #require(buffers.first { $0["model_chunk"] as? Int == c }, "\(dir) chunk \(c)")
                let walk = (gb["buckets"] as? [[String: Any]] ?? []).flatMap { $0["params"] as? [String] ?? [] }
                let registration = Array(walk.reversed())
                #expect(registration.allSatisfy { $0.hasPrefix("model\(c).") }, "\(dir)")
                let shared: Set<String> = pp == 0 ? ["model0.embedding.word_embeddings.weight"] : ["model1.output_layer.weight"]
                chunks.append(
                    registration.map { n in
                        DistribOptimLayout.Param(
                            name: n, count: ((model[n]?["shape"] as? [Int]) ?? []).reduce(1, *), dtype: .bfloat16, sharedEmbedding: shared.contains(n))
                    })
            }
            let l = try DistribOptimLayout(
                chunks: chunks, settings: DistribOptimSettings(dataParallel: 2, bucketSize: 4000, gradsInFP32: true), ppRank: pp)
            #expect(l.buffers.map(\.chunk) == [0, 1], "\(dir)")
            for (b, gb) in zip(l.buffers, buffers) {
                #expect(b.numelUnpadded == gb["numel_unpadded"] as? Int && b.numel == gb["numel"] as? Int, "\(dir)")
                #expect(b.buckets.map { [$0.start, $0.end] } == gb["bucket_indices"] as? [[Int]], "\(dir)")
                let map = try #require(gb["param_index_map"] as? [String: [Int]])
                for p in b.placements { #expect(map[p.name] == [p.bufferStart, p.bufferStart + p.count, p.bucket], "\(dir) \(p.name)") }
                bucketsPerBuffer.append([b.chunk, b.buckets.count])
            }
        }
        // Stage 0: chunk 0 bucketed (embedding alone), chunk 1 one bucket; stage 1: one bucket,
        // then the tied output layer's own.
        #expect(bucketsPerBuffer == [[0, 5], [1, 1], [0, 1], [1, 2]])
    }

    /// Every canonical tensor and Adam state of each Megatron fixture, read through ckpt's
    /// layout (`CanonicalView`), is what tools/interop_canonical.py computed from the
    /// library's in-memory tensors (expected.json `canonical`).
    @Test(arguments: [llama, gpt2, "megatron-llama-tp2pp2", "megatron-gpt2-tp2pp2-dp2"])
    func canonicalTensorsAreTheLibrarys(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let canonical = try #require(e["canonical"] as? [String: Any])
        var expected: [TensorKey: [String: Any]] = [:]
        for (n, rec) in canonical["model"] as? [String: [String: Any]] ?? [:] { expected[.model(n)] = rec }
        for (s, group) in canonical["optimizer"] as? [String: [String: [String: Any]]] ?? [:] {
            for (n, rec) in group { expected[.optimizer(s, n)] = rec }
        }
        let view = try CanonicalView(source: CheckpointSource(path: InteropFixtures.root + "/" + name, formats: .all()))
        #expect(Set(view.tensors.map(\.key)) == Set(expected.keys))
        for (key, rec) in expected {
            let t = try #require(view.describe(key), "\(key)")
            #expect(t.dtype.rawValue == rec["dtype"] as? String && t.shape == rec["shape"] as? [Int], "\(key)")
            #expect(Self.hex(try view.readAll(key)) == rec["xxh3_64"] as? String, "\(name) \(key)")
        }
        #expect(expected.keys.filter { $0.optimizerState == "exp_avg" }.count > 20)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let h = bytes.withUnsafeBytes { XXH3.hash($0) }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    @Test func rankFilesMustHoldExactlyTheArgsChunks() throws {
        func top(_ keys: [String]) -> [PickleDictEntry] { keys.map { PickleDictEntry(key: .string($0), value: .dict([])) } }
        #expect(try MegatronTorchRank.chunkKeys(top(["args", "model0", "model1", "optimizer"]), vpp: 2, path: "x") == ["model0", "model1"])
        #expect(try MegatronTorchRank.chunkKeys(top(["args", "model", "model_extra"]), vpp: 1, path: "x") == ["model"])
        for (keys, vpp) in [
            (["model0", "model1"], 1), (["model"], 2), (["model0"], 2), (["model0", "model1", "model2"], 2), (["model", "model0", "model1"], 2),
        ] {
            do {
                _ = try MegatronTorchRank.chunkKeys(top(keys), vpp: vpp, path: "r/model_optim_rng.pt")
                Issue.record("\(keys) accepted for VPP \(vpp)")
            } catch {
                #expect(error.description.hasPrefix("r/model_optim_rng.pt") && error.description.contains("virtual_pipeline_model_parallel_size"), "\(error)")
            }
        }
        #expect(MegatronNaming.splitChunk("model1.decoder.layers.0.x", vpp: 2) == (1, "decoder.layers.0.x"))
        #expect(MegatronNaming.splitChunk("model2.x", vpp: 2) == (0, "model2.x"))
        #expect(MegatronNaming.splitChunk("model1.x", vpp: 1) == (0, "model1.x"))
    }
}
