import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The rank writer builds `generate_state_dict`'s root and reads back tensor for tensor.
@Suite struct MegatronTorchRankWriterTests {
    private func copy(_ rank: MegatronTorchRank, into writer: MegatronTorchRankWriter, manifest: [ContainerTensor]) throws {
        for t in manifest {
            let sink = try writer.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let bytes = try rank.readAll(t.key)
            try bytes.withUnsafeBytes { try sink.append($0) }
            try sink.finish()
        }
        try writer.commit()
    }

    private func readBack(_ built: RankTrees.Built, naming: MegatronNaming? = nil, sameLayout: Bool = true) throws -> (
        MegatronTorchRank, MegatronTorchRank, InMemoryArchiveSink, MegatronTorchRankWriter
    ) {
        let file = ShardFile(tpRank: 0, ppRank: 0)
        let rank = try MegatronTorchRank(path: "/r", file: file, model: built.source, distributed: nil)
        let blob = MegatronTorchMetadata(shape: rank.args.shape, dataParallel: 1, ranks: [file: rank])
        let config = try rank.args.modelConfig()
        let meta = CheckpointMetadata(
            step: 2, modelConfig: config, optimizer: try rank.args.optimizerConfig(paramGroups: rank.paramGroups), userJSON: blob.userJSON)
        // Manifest in ckpt's own order (sorted keys), not the file's.
        let manifest = rank.tensors.sorted { $0.key < $1.key }
        let sink = InMemoryArchiveSink(path: "/o/model_optim_rng.pt")
        let shape = sameLayout ? rank.args.shape : MegatronShape(tp: 4, pp: 2, vocabDivisibleBy: 8)
        let w = try MegatronTorchRankWriter(
            path: sink.path, file: file, shape: shape, config: config, metadata: meta, manifest: manifest,
            options: MegatronTorchExportOptions(naming: naming), archive: sink)
        try copy(rank, into: w, manifest: manifest)
        let back = try MegatronTorchRank(path: "/o", file: file, model: sink.source(), distributed: nil)
        return (rank, back, sink, w)
    }

    @Test func rootFollowsGenerateStateDict() throws {
        let (_, _, sink, w) = try readBack(try RankTrees.float16())
        let root = try #require(sink.root)
        #expect(
            root.entries?.compactMap(\.key.stringValue)
                == [
                    "args", "checkpoint_version", "iteration", "model", "optimizer", "opt_param_scheduler", "rng_state", "num_floating_point_operations_so_far",
                ])
        #expect(root["checkpoint_version"] == .float(3.0) && root["iteration"] == .int(2))
        let keys = root["model"]?.stateDictEntries?.compactMap(\.key.stringValue) ?? []
        guard case .object(let od)? = root["model"] else { Issue.record("model is not an OrderedDict"); return }
        #expect(od.type.description == "collections.OrderedDict")
        let extra = ["linear_proj", "linear_qkv", "linear_fc1", "linear_fc2"]
        #expect(
            keys
                == RankTrees.params.map(\.0).flatMap { n in
                    extra.contains { n.hasSuffix($0 + ".weight") } ? [n, n.replacingOccurrences(of: ".weight", with: "._extra_state")] : [n]
                })
        let opt = try #require(root["optimizer"])
        #expect(opt.entries?.compactMap(\.key.stringValue) == ["optimizer", "fp32_from_fp16_params"])
        let groups = opt["optimizer"]?["param_groups"]?.elements ?? []
        #expect(groups.map { $0["params"] } == [.list((0..<5).map { .int($0) }), .list([.int(5), .int(6)])])
        #expect(groups.map { $0["wd_mult"] } == [.float(1), .float(0)] && groups[1]["weight_decay"] == .float(0))
        let state = opt["optimizer"]?["state"]?.entries ?? []
        #expect(state.map(\.key) == (0..<7).map { .int($0) })
        // Each step is a 0-d float32 tensor in a storage of its own, holding 2.
        var stepStorages = Set<String>()
        for e in state {
            guard case .tensor(let t)? = e.value["step"] else { Issue.record("no step tensor"); continue }
            #expect(t.shape == [] && t.dtypeName == "float32")
            stepStorages.insert(t.storage.key)
            let bytes = sink.sinks.first { $0.0 == t.storage.key }?.1.bytes ?? []
            #expect(bytes == withUnsafeBytes(of: Float(2).bitPattern.littleEndian) { Array($0) })
        }
        #expect(stepStorages.count == 7)
        #expect(opt["fp32_from_fp16_params"]?.elements?.map { $0.elements?.count } == [5, 2])
        #expect(w.notes.isEmpty, "\(w.notes)")
    }

    @Test func writtenRankReadsBackTensorForTensor() throws {
        let (rank, back, _, _) = try readBack(try RankTrees.float16())
        #expect(Set(back.tensors) == Set(rank.tensors))
        for t in rank.tensors { #expect(try back.readAll(t.key) == rank.readAll(t.key), "\(t.key)") }
        #expect(back.optimizerForm == "float16" && back.iteration == 2)
        // Same JSON up to dict order (text has sorted keys).
        #expect(back.state.rank["rng_state"]?.text == rank.state.rank["rng_state"]?.text)
        #expect(back.state.common["opt_param_scheduler"]?.text == rank.state.common["opt_param_scheduler"]?.text)
        // The local spec's linear layers all get their (None) extra state.
        #expect(
            back.state.rank["extra_state"]?.text
                == #"{"decoder.layers.0.mlp.linear_fc1._extra_state":null,"decoder.layers.0.mlp.linear_fc2._extra_state":null,"decoder.layers.0.self_attention.linear_proj._extra_state":null,"decoder.layers.0.self_attention.linear_qkv._extra_state":null}"#
        )
        #expect(try back.args.modelConfig() == rank.args.modelConfig())
        let o = try back.args.optimizerConfig(paramGroups: back.paramGroups)
        #expect(o == (try rank.args.optimizerConfig(paramGroups: rank.paramGroups)))
    }

    @Test func transformerEngineNamingWritesFusedNamesAndExtraStates() throws {
        let (rank, back, sink, _) = try readBack(try RankTrees.float16(), naming: .transformerEngine)
        let keys = sink.root?["model"]?.stateDictEntries?.compactMap(\.key.stringValue) ?? []
        #expect(keys.contains("decoder.layers.0.self_attention.linear_qkv.layer_norm_weight"))
        #expect(keys.contains("decoder.layers.0.self_attention.core_attention._extra_state"))
        #expect(!keys.contains("decoder.layers.0.input_layernorm.weight"))
        let proj = keys.firstIndex(of: "decoder.layers.0.self_attention.linear_proj.weight")!
        let norm = keys.firstIndex(of: "decoder.layers.0.self_attention.linear_qkv.layer_norm_weight")!
        #expect(proj < norm)
        #expect(back.naming == .transformerEngine && sink.root?["args"]?["transformer_impl"] == .string("transformer_engine"))
        for t in rank.tensors { #expect(try back.readAll(t.key) == rank.readAll(t.key), "\(t.key)") }
    }

    @Test func anotherLayoutDropsTheRankStateWithNotes() throws {
        let (_, back, sink, w) = try readBack(try RankTrees.float16(), sameLayout: false)
        #expect(sink.root?["rng_state"] == nil && back.state.rank["rng_state"] == nil)
        #expect(w.notes.contains { $0.contains("--no-load-rng") })
        #expect(sink.root?["args"]?["tensor_model_parallel_size"] == .int(4) && sink.root?["args"]?["no_save_rng"] == .bool(true))
        #expect(sink.root?["opt_param_scheduler"]?["num_steps"] == .int(8))
    }

    @Test func manifestProblemsAreRefused() throws {
        let config = ModelConfig(family: "llama", layers: 1, hidden: 8, heads: 2, ffn: 8, vocab: 56, maxSeq: 8)
        let file = ShardFile(tpRank: 0, ppRank: 0)
        let w16 = ContainerTensor(key: .model("w"), dtype: .bfloat16, shape: [2, 2])
        func make(_ m: [ContainerTensor]) throws -> MegatronTorchRankWriter {
            try MegatronTorchRankWriter(
                path: "o.pt", file: file, shape: MegatronShape(tp: 1, pp: 1), config: config, metadata: CheckpointMetadata(step: 1),
                manifest: m, archive: InMemoryArchiveSink(path: "o.pt"))
        }
        let m = ContainerTensor(key: .optimizer("exp_avg", "w"), dtype: .float32, shape: [2, 2])
        let v = ContainerTensor(key: .optimizer("exp_avg_sq", "w"), dtype: .float32, shape: [2, 2])
        #expect(throws: ContainerError.self) { try make([w16, m, v]) }  // no master for a bf16 parameter
        #expect(throws: ContainerError.self) { try make([w16, ContainerTensor(key: .optimizer("exp_avg", "w"), dtype: .bfloat16, shape: [2, 2])]) }
        #expect(throws: ContainerError.self) { try make([w16, ContainerTensor(key: .optimizer("exp_avg", "zz"), dtype: .float32, shape: [2, 2])]) }
        #expect(throws: ContainerError.self) { try make([w16, ContainerTensor(key: .optimizer("momentum", "w"), dtype: .float32, shape: [2, 2])]) }
        let ok = try make([w16])
        #expect(throws: ContainerError.self) { try ok.beginTensor(.model("w"), dtype: .float32, shape: [2, 2]) }
        #expect(throws: ContainerError.self) { try ok.commit() }
    }

    @Test func noOptimizerWritesNoOptimizerEntry() throws {
        let config = ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 56, maxSeq: 8)
        let sink = InMemoryArchiveSink(path: "o.pt")
        let t = ContainerTensor(key: .model("embedding.word_embeddings.weight"), dtype: .float32, shape: [128, 8])
        let w = try MegatronTorchRankWriter(
            path: "o.pt", file: ShardFile(tpRank: 0, ppRank: 0), shape: MegatronShape(tp: 1, pp: 1), config: config,
            metadata: CheckpointMetadata(step: 5), manifest: [t], archive: sink)
        let s = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
        try [UInt8](repeating: 1, count: t.byteCount).withUnsafeBytes { try s.append($0) }
        try s.finish()
        try w.commit()
        #expect(sink.root?["optimizer"] == nil && sink.root?["opt_param_scheduler"] == nil)
        #expect(sink.root?["args"]?["no_save_optim"] == .bool(true) && sink.root?["args"]?["params_dtype"] == TreeBuilder.torch("float32"))
        #expect(w.notes.contains { $0.contains("--no-load-optim") })
    }
}
