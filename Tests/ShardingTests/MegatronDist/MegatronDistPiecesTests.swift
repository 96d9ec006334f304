import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The parts of the torch_dist reader that need no DCP file: metadata.json, the optimizer form,
/// region reads, the placement of rank-local tensors in the global ones.
@Suite struct MegatronDistPiecesTests {
    // MARK: metadata.json

    @Test func bothMetadataForms() throws {
        let old = try MegatronDistBackend(
            bytes: Array(#"{"sharded_backend": "torch_dist", "sharded_backend_version": 1, "common_backend": "torch", "common_backend_version": 1}"#.utf8),
            path: "m")
        #expect(old == MegatronDistBackend(shardedVersion: 1, commonBackend: "torch"))
        let new = try MegatronDistBackend(bytes: Array(#"{"sharded_backend": "torch_dist", "sharded_backend_version": 1}"#.utf8), path: "m")
        #expect(new.commonBackend == nil)
        // What megatron-core 0.16.1 wrote, byte for byte (Tests/Fixtures/interop/megatron-dist-*).
        #expect(old.text == #"{"sharded_backend": "torch_dist", "sharded_backend_version": 1, "common_backend": "torch", "common_backend_version": 1}"#)
    }

    @Test(arguments: [
        (#"[]"#, "m: malformed file (not a JSON object)"),
        (#"{"#, "m: malformed file (not JSON: "),
        (#"{"common_backend": "torch"}"#, "m: malformed file (no sharded_backend: not a megatron.core.dist_checkpointing metadata.json)"),
        (#"{"sharded_backend": "zarr", "sharded_backend_version": 1}"#, "m: not supported: sharded_backend 'zarr'"),
        (#"{"sharded_backend": "torch_dist", "sharded_backend_version": "1"}"#, "m: malformed file (sharded_backend_version is not a positive integer)"),
        (#"{"sharded_backend": "torch_dist", "sharded_backend_version": 2}"#, "m: not supported: sharded_backend_version 2"),
        (#"{"sharded_backend": "torch_dist", "sharded_backend_version": 1, "common_backend": "zarr"}"#, "m: not supported: common_backend 'zarr'"),
        (#"{"sharded_backend": "torch_dist", "sharded_backend_version": 1, "sharded_backend": "zarr"}"#, "m: malformed file (not JSON: "),
        (String(repeating: "[", count: 100), "m: malformed file (not JSON: "),
    ])
    func hostileMetadataIsOneLine(text: String, message: String) {
        do {
            _ = try MegatronDistBackend(bytes: Array(text.utf8), path: "m")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    // MARK: optimizer form

    @Test func formsByContentMetadata() throws {
        let bucket = ["optimizer.distributed.dp_group_idx_0.gbuf_idx_0.dtype_(torch.bfloat16, torch.float32).bucket_idx_0.param"]
        let model = ["optimizer.state.param.output_layer.weight", "optimizer.state.exp_avg.output_layer.weight"]
        let plain = ["optimizer.state.fp32_param.output_layer.weight", "optimizer.state.exp_avg.output_layer.weight"]
        #expect(try MegatronDistOptimizerForm.detect(sharding: "dp_reshardable", commonOptimizer: nil, names: bucket, path: "d") == .dpReshardable)
        #expect(try MegatronDistOptimizerForm.detect(sharding: "fully_reshardable", commonOptimizer: nil, names: model, path: "d") == .fullyReshardable)
        #expect(try MegatronDistOptimizerForm.detect(sharding: nil, commonOptimizer: nil, names: plain, path: "d") == .nonDistributed)
        #expect(try MegatronDistOptimizerForm.detect(sharding: nil, commonOptimizer: nil, names: ["embedding.word_embeddings.weight"], path: "d") == .none)
        let refused: [(String?, [String], String)] = [
            ("fully_sharded_model_space", model, "fully_sharded_model_space (megatron-core 0.8-0.14's default"),
            ("dp_zero_gather_scatter", bucket, "dp_zero_gather_scatter is not supported"),
            ("fsdp_dtensor", model, "fsdp_dtensor is not supported"),
            (nil, bucket, "without content_metadata"),
            ("dp_reshardable", model, "no optimizer.distributed.* tensors"),
            ("dp_reshardable", ["chained_1.optimizer.distributed.x"] + bucket, "chained optimizers"),
        ]
        for (s, names, message) in refused {
            #expect(throws: ContainerError.self) { try MegatronDistOptimizerForm.detect(sharding: s, commonOptimizer: nil, names: names, path: "d") }
            do {
                _ = try MegatronDistOptimizerForm.detect(sharding: s, commonOptimizer: nil, names: names, path: "d")
            } catch { #expect(error.description.contains(message), "\(error.description)") }
        }
    }

    // MARK: regions

    @Test func flatRegionReadsRowMajorRunsOfABucket() throws {
        // A [3, 4] parameter at element 10 of a 40-element bucket.
        let store = InMemoryDistStore(tensors: [(DistTensorEntry(fqn: "b", dtype: .float32, shape: [40]), Encoded.float32(40))])
        let region = DistRegion.flat(fqn: "b", start: 10)
        func read(_ box: TensorBox) throws -> [Float] {
            var out = [UInt8](repeating: 0, count: box.count * 4)
            try out.withUnsafeMutableBytes { try region.read(box: box, shape: [3, 4], elementSize: 4, from: store, into: $0) }
            return Encoded.values(out)
        }
        #expect(try read(.whole([3, 4])) == (10..<22).map(Float.init))
        #expect(store.reads.count == 1)
        #expect(try read(TensorBox(offsets: [1, 1], sizes: [2, 2])) == [15, 16, 19, 20])
        #expect(try read(TensorBox(offsets: [2, 0], sizes: [1, 4])) == [18, 19, 20, 21])
        #expect(throws: ContainerError.self) { try read(TensorBox(offsets: [2, 0], sizes: [2, 4])) }
    }

    @Test func piecesRegionReadsSwiGLUHalvesAndTheLayerAxis() throws {
        // Global fc1 [L=2, 8, 3]: rank 1 of TP 2 holds rows [W_1; V_1] = global rows 2..<4 and 6..<8 of layer 1.
        let store = InMemoryDistStore(tensors: [(DistTensorEntry(fqn: "fc1", dtype: .float32, shape: [2, 8, 3]), Encoded.float32(48))])
        let region = DistRegion.pieces([
            DistRegion.Piece(fqn: "fc1", rows: 0..<2, offsets: [1, 2, 0], prefix: 1),
            DistRegion.Piece(fqn: "fc1", rows: 2..<4, offsets: [1, 6, 0], prefix: 1),
        ])
        var out = [UInt8](repeating: 0, count: 4 * 3 * 4)
        try out.withUnsafeMutableBytes { try region.read(box: .whole([4, 3]), shape: [4, 3], elementSize: 4, from: store, into: $0) }
        let layer1 = 24
        #expect(Encoded.values(out) == ([2, 3, 6, 7] as [Int]).flatMap { r in (0..<3).map { Float(layer1 + r * 3 + $0) } })
        var part = [UInt8](repeating: 0, count: 2 * 2 * 4)
        try part.withUnsafeMutableBytes {
            try region.read(box: TensorBox(offsets: [1, 1], sizes: [2, 2]), shape: [4, 3], elementSize: 4, from: store, into: $0)
        }
        #expect(Encoded.values(part) == [Float(layer1 + 3 * 3 + 1), Float(layer1 + 3 * 3 + 2), Float(layer1 + 6 * 3 + 1), Float(layer1 + 6 * 3 + 2)])
    }

    // MARK: placement

    private func llama() -> ModelConfig {
        ModelConfig(
            family: "llama", layers: 4, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 101, maxSeq: 64, normEps: 1e-5, activation: "swiglu",
            tieEmbeddings: false, norm: "rmsnorm", position: "rope", ropeTheta: 10000, bias: false)
    }

    /// The chunks megatron-core 0.16.1 wrote for the TP2 x PP2 LLaMA fixture
    /// (megatron-dist-llama-tp2pp2-fr/.metadata, read with torch): fc1 of layer 0 at rows 0,
    /// 48 (rank 0) and 24, 72 (rank 1), each [1, 24, 32]; linear_proj at columns 0 and 16.
    @Test func placementIsMegatronCores() throws {
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        let layout = try MegatronDistLayout(config: llama(), shape: shape, layerKeys: .stacked, interpreter: try LayoutInterpreter())
        func chunks(_ f: ShardFile, _ name: String) throws -> ([Int], [TensorBox]) {
            let t = try #require(layout.map.tensors(in: f).first { $0.name == name })
            let p = try layout.placement(of: t, path: "x")
            return (p.globalShape, p.chunks(localShape: t.shape))
        }
        let fc1 = "decoder.layers.0.mlp.linear_fc1.weight"
        #expect(try chunks(ShardFile(tpRank: 0, ppRank: 0), fc1).0 == [4, 96, 32])
        #expect(try chunks(ShardFile(tpRank: 0, ppRank: 0), fc1).1.map(\.offsets) == [[0, 0, 0], [0, 48, 0]])
        #expect(try chunks(ShardFile(tpRank: 1, ppRank: 0), fc1).1.map(\.offsets) == [[0, 24, 0], [0, 72, 0]])
        #expect(try chunks(ShardFile(tpRank: 1, ppRank: 1), "decoder.layers.1.mlp.linear_fc1.weight").1.map(\.offsets) == [[3, 24, 0], [3, 72, 0]])
        #expect(try chunks(ShardFile(tpRank: 1, ppRank: 0), fc1).1.map(\.sizes) == [[1, 24, 32], [1, 24, 32]])
        let proj = try chunks(ShardFile(tpRank: 1, ppRank: 1), "decoder.layers.0.self_attention.linear_proj.weight")
        #expect(proj.0 == [4, 32, 32] && proj.1 == [TensorBox(offsets: [2, 0, 16], sizes: [1, 32, 16])])
        let qkv = try chunks(ShardFile(tpRank: 1, ppRank: 0), "decoder.layers.1.self_attention.linear_qkv.weight")
        #expect(qkv.0 == [4, 64, 32] && qkv.1 == [TensorBox(offsets: [1, 32, 0], sizes: [1, 32, 32])])
        let emb = try chunks(ShardFile(tpRank: 1, ppRank: 0), "embedding.word_embeddings.weight")
        #expect(emb.0 == [112, 32] && emb.1 == [TensorBox(offsets: [56, 0], sizes: [56, 32])])
        #expect(layout.candidateKeys("decoder.layers.1.input_layernorm.weight", stage: 1)[0] == "decoder.layers.self_attention.linear_qkv.layer_norm_weight")
        let perLayer = try MegatronDistLayout(config: llama(), shape: shape, layerKeys: .perLayer, interpreter: try LayoutInterpreter())
        #expect(perLayer.candidateKeys("decoder.layers.1.pre_mlp_layernorm.weight", stage: 1)[0] == "decoder.layers.3.mlp.linear_fc1.layer_norm_weight")
        #expect(MegatronDistLayout.layerKeys(of: ["embedding.word_embeddings.weight", "decoder.layers.0.mlp.linear_fc2.weight"]) == .perLayer)
        #expect(MegatronDistLayout.layerKeys(of: ["decoder.layers.mlp.linear_fc2.weight"]) == .stacked)
    }

    @Test func extraStateItemsMapToRankLocalKeys() throws {
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8)
        let layout = try MegatronDistLayout(config: llama(), shape: shape, layerKeys: .stacked, interpreter: try LayoutInterpreter())
        #expect(
            MegatronDistState.extraStateKey("decoder.layers.self_attention.linear_proj._extra_state/shard_3_4", layout: layout)! == (
                "decoder.layers.1.self_attention.linear_proj._extra_state", 1
            ))
        #expect(
            MegatronDistState.extraStateKey("decoder.layers.2.mlp.linear_fc1._extra_state/shard_0_1", layout: layout)! == (
                "decoder.layers.0.mlp.linear_fc1._extra_state", 1
            ))
        #expect(MegatronDistState.extraStateKey("output_layer._extra_state/shard_0_1", layout: layout)! == ("output_layer._extra_state", 1))
        #expect(MegatronDistState.extraStateKey("decoder.layers.x._extra_state/shard_9_4", layout: layout) == nil)
        #expect(MegatronDistState.extraStateKey("rng_state/shard_0.0_2.2", layout: layout) == nil)
    }
}
