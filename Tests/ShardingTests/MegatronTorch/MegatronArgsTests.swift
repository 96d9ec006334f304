import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// `args` Namespace -> model_config / optimizer / shape, both ways, and every refusal.
@Suite struct MegatronArgsTests {
    static let llama = "megatron-llama-tp2pp2"
    static let gpt2 = "megatron-gpt2-tp2pp2-dp2"

    private func config(_ c: [String: Any]) throws -> ModelConfig {
        try JSONDecoder().decode(ModelConfig.self, from: JSONSerialization.data(withJSONObject: c))
    }

    @Test func llamaFixtureArgsGiveItsModelConfig() throws {
        let e = try InteropFixtures.expected(Self.llama)
        let args = try MegatronArgs(try InteropFixtures.args(Self.llama), path: "a.pt")
        let (vocab, source) = try args.vocab(requested: nil)
        #expect(vocab == 101 && source == .nullTokenizer)
        #expect(try args.modelConfig() == config(e["model_config"] as? [String: Any] ?? [:]))
        #expect(args.shape == MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8))
        #expect(args.paddedVocab == 112 && args.dataParallel == 1 && args.paramsDType == .bfloat16)
        #expect(!args.usesDistributedOptimizer && args.transformerImpl == "local")
        let groups = try InteropFixtures.exact(Self.llama)["param_groups"]?.elements ?? []
        let o = try args.optimizerConfig(paramGroups: groups)
        #expect(o.variant == "torch")  // torch.optim.AdamW (no TE/Apex on CPU): groups carry amsgrad
        #expect(o.lr == 0.0009728616793536588 && o.weightDecay == 0.1 && o.beta1 == 0.9 && o.beta2 == 0.95)
        #expect(o.eps == 1e-8 && o.gradClip == 1.0 && o.decay == "matrices")
    }

    @Test func gpt2FixtureArgsGiveExactGeLUAndBucketSettings() throws {
        let e = try InteropFixtures.expected(Self.gpt2)
        let args = try MegatronArgs(try InteropFixtures.args(Self.gpt2), path: "a.pt")
        var expected = try config(e["model_config"] as? [String: Any] ?? [:])
        // expected.json derives gelu_tanh from --openai-gelu, which only legacy models read:
        // megatron-core 0.16.1 applies F.gelu (erf) unless bias_gelu_fusion (off here) fuses
        // its tanh form.
        expected.activation = "gelu"
        #expect(try args.modelConfig() == expected)
        #expect(args.dataParallel == 2 && args.usesDistributedOptimizer)
        #expect(
            try args.bufferSettings
                == DistribOptimSettings(dataParallel: 2, bucketSize: 4000, gradsInFP32: true, padForHighNCCLBusBandwidth: false))
    }

    @Test func biasGeLUFusionMeansTanhGeLU() throws {
        var a = try InteropFixtures.args(Self.gpt2)
        a = set(a, "bias_gelu_fusion", .bool(true))
        #expect(try MegatronArgs(a, path: "a.pt").modelConfig().activation == "gelu_tanh")
    }

    @Test func givenVocabMustPadToThePaddedSize() throws {
        let args = try MegatronArgs(try InteropFixtures.args(Self.llama), path: "a.pt")
        #expect(try args.vocab(requested: 97) == (97, .caller))
        #expect(try args.modelConfig(vocab: 100).vocab == 100)
        #expect(throws: ContainerError.self) { try args.vocab(requested: 96) }
        let other = try MegatronArgs(set(try InteropFixtures.args(Self.llama), "tokenizer_type", .string("GPT2BPETokenizer")), path: "a.pt")
        #expect(try other.vocab(requested: nil) == (112, .padded))
    }

    /// Every refusal names the argument.
    @Test(arguments: [
        // 4 layers over PP 2: 3 chunks per stage do not divide them.
        ("num_experts", PickleValue.int(8)), ("virtual_pipeline_model_parallel_size", .int(3)),
        ("num_layers_per_virtual_pipeline_stage", .int(3)), ("decoder_first_pipeline_num_layers", .int(1)),
        ("multi_latent_attention", .bool(true)), ("fp8", .string("hybrid")), ("expert_model_parallel_size", .int(2)),
        ("is_hybrid_model", .bool(true)), ("mtp_num_layers", .int(1)), ("spec", .list([.string("m"), .string("f")])),
        ("use_precision_aware_optimizer", .bool(true)), ("transformer_impl", .string("inference_optimized")),
        ("padded_vocab_size", .int(100)), ("tensor_model_parallel_size", .int(0)), ("num_layers", .string("four")),
    ])
    func structuralRefusals(name: String, value: PickleValue) throws {
        let a = set(try InteropFixtures.args(Self.llama), name, value)
        #expect(throws: ContainerError.self) { try MegatronArgs(a, path: "a.pt").modelConfig() }
        do {
            _ = try MegatronArgs(a, path: "a.pt").modelConfig()
        } catch {
            #expect(error.description.contains("args.\(name)"), "\(error)")
        }
    }

    @Test(arguments: [
        ("squared_relu", PickleValue.bool(true)), ("qk_layernorm", .bool(true)), ("apply_layernorm_1p", .bool(true)),
        ("rotary_interleaved", .bool(true)), ("rotary_seq_len_interpolation_factor", .int(2)), ("rotary_percent", .float(0.1)),
        ("position_embedding_type", .string("yarn")), ("normalization", .string("LayerNorm1P")), ("kv_channels", .int(16)),
        ("add_qkv_bias", .bool(true)),
    ])
    func architectureRefusals(name: String, value: PickleValue) throws {
        let args = try MegatronArgs(set(try InteropFixtures.args(Self.llama), name, value), path: "a.pt")
        do {
            _ = try args.modelConfig()
            Issue.record("\(name) accepted")
        } catch {
            #expect(error.description.contains("args.\(name)"), "\(error)")
        }
    }

    @Test func partialRotaryIsReadAndWrittenAsRotaryPercent() throws {
        let base = try InteropFixtures.args(Self.llama)
        let half = try MegatronArgs(set(base, "rotary_percent", .float(0.5)), path: "a.pt").modelConfig()
        #expect(half.rotaryPct == 0.5 && half.position == "rope")
        #expect(try MegatronArgs(base, path: "a.pt").modelConfig().rotaryPct == 1)
        // Written, from a base and fresh: the args carry the model's rotary_pct.
        for b in [base, nil] as [PickleValue?] {
            let ns = try MegatronArgs.namespace(
                config: half, shape: MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8), dataParallel: 1, optimizer: nil, paramsDType: .bfloat16,
                naming: .local, savesRNG: false, base: b, path: "o.pt")
            let back = try MegatronArgs(ns, path: "o.pt")
            #expect(back.value("rotary_percent") == .float(0.5))
            #expect(try back.modelConfig(vocab: half.vocab) == half)
        }
        // Residual parallel has no megatron-core form: refused by name, not written as sequential.
        var parallel = half
        parallel.residual = "parallel"
        #expect(throws: ContainerError.self) {
            _ = try MegatronArgs.namespace(
                config: parallel, shape: MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8), dataParallel: 1, optimizer: nil,
                paramsDType: .bfloat16, naming: .local, savesRNG: false, path: "o.pt")
        }
    }

    /// `virtual_pipeline_model_parallel_size` as `validate_args` leaves it, or derived from
    /// `num_layers_per_virtual_pipeline_stage` / `num_virtual_stages_per_pipeline_rank`; every
    /// contradiction and impossible shape refused naming the argument.
    @Test func virtualPipelineSize() throws {
        let vpp = try MegatronArgs(try InteropFixtures.args("megatron-llama-tp2pp2-vpp2"), path: "a.pt")
        #expect(vpp.shape == MegatronShape(tp: 2, pp: 2, vpp: 2, vocabDivisibleBy: 8) && vpp.shape.chunks == 4)
        let base = try InteropFixtures.args(Self.llama)  // 4 layers, PP 2
        func shape(_ changes: [(String, PickleValue)]) throws(ContainerError) -> MegatronShape {
            try MegatronArgs(changes.reduce(base) { set($0, $1.0, $1.1) }, path: "a.pt").shape
        }
        #expect(try shape([]).vpp == 1)
        #expect(try shape([("virtual_pipeline_model_parallel_size", .none), ("num_layers_per_virtual_pipeline_stage", .none)]).vpp == 1)
        #expect(try shape([("virtual_pipeline_model_parallel_size", .int(2))]).vpp == 2)
        #expect(try shape([("num_layers_per_virtual_pipeline_stage", .int(1))]).vpp == 2)
        #expect(try shape([("num_layers_per_virtual_pipeline_stage", .int(2))]).vpp == 1)
        #expect(try shape([("num_virtual_stages_per_pipeline_rank", .int(2))]).vpp == 2)
        #expect(try shape([("virtual_pipeline_model_parallel_size", .int(2)), ("num_layers_per_virtual_pipeline_stage", .int(1))]).vpp == 2)
        let refused: [([(String, PickleValue)], String)] = [
            ([("virtual_pipeline_model_parallel_size", .int(2)), ("num_layers_per_virtual_pipeline_stage", .int(2))], "contradicts"),
            ([("virtual_pipeline_model_parallel_size", .int(4))], "do not divide args.num_layers = 4"),
            ([("pipeline_model_parallel_size", .int(1)), ("virtual_pipeline_model_parallel_size", .int(2))], "only with pipeline parallelism"),
            ([("num_layers_per_virtual_pipeline_stage", .int(3))], "does not divide the 4 layers"),
        ]
        for (changes, why) in refused {
            do {
                _ = try shape(changes)
                Issue.record("\(changes) accepted")
            } catch {
                #expect(error.description.contains("args.") && error.description.contains(why), "\(error)")
            }
        }
    }

    /// Export records the target's virtual pipeline as Megatron-LM's `validate_args` leaves it.
    @Test func exportRecordsTheVirtualPipeline() throws {
        let c = ModelConfig(family: "llama", layers: 8, hidden: 32, heads: 4, kvHeads: 2, vocab: 96, maxSeq: 32)
        func written(_ shape: MegatronShape, base: PickleValue? = nil) throws -> MegatronArgs {
            let ns = try MegatronArgs.namespace(
                config: c, shape: shape, dataParallel: 1, optimizer: nil, paramsDType: .bfloat16, naming: .local, savesRNG: false, base: base,
                path: "o.pt")
            return try MegatronArgs(ns, path: "o.pt")
        }
        let v = try written(MegatronShape(tp: 1, pp: 2, vpp: 2))
        #expect(v.shape.vpp == 2 && v.value("virtual_pipeline_model_parallel_size") == .int(2))
        #expect(v.value("num_layers_per_virtual_pipeline_stage") == .int(2) && v.value("overlap_p2p_comm") == .bool(true))
        #expect(try v.modelConfig(vocab: 96) == c)
        let plain = try written(MegatronShape(tp: 1, pp: 2))
        #expect(
            plain.value("virtual_pipeline_model_parallel_size") == PickleValue.none && plain.value("num_layers_per_virtual_pipeline_stage") == PickleValue.none)
        // From a VPP source to none: the source's switches are turned off as validate_args does.
        let source = try InteropFixtures.args("megatron-llama-tp2pp2-vpp2")
        let fromVPP = try written(MegatronShape(tp: 1, pp: 4), base: set(source, "num_layers", .int(8)))
        #expect(fromVPP.shape.vpp == 1 && fromVPP.value("overlap_p2p_comm") == .bool(false))
        #expect(fromVPP.value("num_layers_per_virtual_pipeline_stage") == PickleValue.none)
        // A source that used --num-virtual-stages-per-pipeline-rank keeps that spelling.
        let byStages = set(set(source, "num_layers_per_virtual_pipeline_stage", .none), "num_virtual_stages_per_pipeline_rank", .int(2))
        let s = try written(MegatronShape(tp: 1, pp: 2, vpp: 4), base: set(byStages, "num_layers", .int(8)))
        #expect(s.shape.vpp == 4 && s.value("num_virtual_stages_per_pipeline_rank") == .int(4))
        #expect(s.value("num_layers_per_virtual_pipeline_stage") == PickleValue.none)
    }

    @Test func layerNormWithoutLinearBiasesIsRefused() throws {
        let a = set(set(try InteropFixtures.args(Self.gpt2), "add_bias_linear", .bool(false)), "add_qkv_bias", .bool(false))
        do {
            _ = try MegatronArgs(a, path: "a.pt").modelConfig()
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("args.add_bias_linear"))
        }
    }

    @Test func optimizerRefusals() throws {
        for (name, value) in [("optimizer", PickleValue.string("sgd")), ("decoupled_weight_decay", .bool(false))] {
            let args = try MegatronArgs(set(try InteropFixtures.args(Self.llama), name, value), path: "a.pt")
            do {
                _ = try args.optimizerConfig()
                Issue.record("\(name) accepted")
            } catch {
                #expect(error.description.contains("args.\(name)"), "\(error)")
            }
        }
    }

    @Test func notANamespaceIsMalformed() {
        #expect(throws: ContainerError.malformed(path: "a.pt", detail: "args is not an argparse.Namespace")) {
            try MegatronArgs(.dict([]), path: "a.pt")
        }
    }

    /// ckpt's export Namespace reads back into the same model_config, shape and optimizer.
    @Test(arguments: [
        ModelConfig(family: "gpt2", layers: 4, hidden: 64, heads: 4, vocab: 1000, maxSeq: 128, activation: "gelu"),
        ModelConfig(family: "gpt2", layers: 2, hidden: 64, heads: 8, vocab: 50257, maxSeq: 1024),
        ModelConfig(family: "gpt2", layers: 2, hidden: 64, heads: 8, vocab: 96, maxSeq: 32, tieEmbeddings: false),
        ModelConfig(family: "llama", layers: 4, hidden: 64, heads: 4, kvHeads: 2, ffn: 160, vocab: 96, maxSeq: 32, ropeTheta: 500000),
        ModelConfig(family: "llama", layers: 2, hidden: 64, heads: 4, ffn: 160, vocab: 96, maxSeq: 32, tieEmbeddings: true, bias: true),
    ])
    func exportedArgsReadBack(config: ModelConfig) throws {
        let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 64)
        let o = OptimizerConfig(variant: "decoupled", lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 0.5)
        let ns = try MegatronArgs.namespace(
            config: config, shape: shape, dataParallel: 3, optimizer: o, paramsDType: .bfloat16, naming: .local,
            savesRNG: false, path: "out.pt")
        let back = try MegatronArgs(ns, path: "out.pt")
        #expect(try back.modelConfig(vocab: config.vocab) == config)
        #expect(back.shape == shape && back.dataParallel == 3 && back.paramsDType == .bfloat16 && !back.usesDistributedOptimizer)
        let bo = try back.optimizerConfig()
        #expect(bo.lr == o.lr && bo.beta2 == o.beta2 && bo.weightDecay == o.weightDecay && bo.gradClip == 0.5 && bo.variant == "decoupled")
        #expect(back.value("iteration") == nil && back.value("no_save_rng") == .bool(true))
        #expect(back.value("tokenizer_type") == .string(config.family == "llama" ? "HuggingFaceTokenizer" : "GPT2BPETokenizer"))
    }

    /// On a base Namespace only what ckpt knows changes; the rest of the run's args stay.
    @Test func exportOverABaseKeepsTheRunsArgs() throws {
        let base = try InteropFixtures.args(Self.llama)
        let config = try MegatronArgs(base, path: "a.pt").modelConfig()
        let ns = try MegatronArgs.namespace(
            config: config, shape: MegatronShape(tp: 1, pp: 4, vocabDivisibleBy: 8), dataParallel: 1, optimizer: nil,
            paramsDType: .bfloat16, naming: .local, savesRNG: false, base: base, path: "out.pt")
        let back = try MegatronArgs(ns, path: "out.pt")
        #expect(back.paddedVocab == 104 && back.shape.tp == 1 && back.shape.pp == 4)
        #expect(back.value("seed") == .int(1234) && back.value("lr") == .float(0.001) && back.value("tokenizer_type") == .string("NullTokenizer"))
        #expect(try back.modelConfig() == config)
        #expect(back.value("no_save_optim") == .bool(true) && back.value("world_size") == .int(4))
    }

    @Test func tanhGeLUWithoutBiasCannotBeExported() {
        let c = ModelConfig(family: "gpt2", layers: 2, hidden: 64, heads: 4, vocab: 96, maxSeq: 32, bias: false)
        #expect(throws: ContainerError.self) {
            try MegatronArgs.namespace(
                config: c, shape: MegatronShape(tp: 1, pp: 1), dataParallel: 1, optimizer: nil, paramsDType: .float32,
                naming: .local, savesRNG: false, path: "o.pt")
        }
    }

    private func set(_ ns: PickleValue, _ name: String, _ value: PickleValue) -> PickleValue {
        guard case .object(var o) = ns, case .dict(var e)? = o.state else { return ns }
        if let i = e.firstIndex(where: { $0.key == .string(name) }) { e[i].value = value } else { e.append(PickleDictEntry(key: .string(name), value: value)) }
        o.state = .dict(e)
        return .object(o)
    }
}
