import CheckpointStore
import Containers

extension MegatronArgs {
    /// The `args` Namespace of a checkpoint ckpt writes: `base` (the source's args, restored
    /// from the metadata) with every attribute ckpt knows set from `config`, `shape`,
    /// `optimizer` and the run shape; without a base, a Namespace holding every argument that
    /// `megatron.training`'s `load_checkpoint`, `check_checkpoint_args` and
    /// `load_args_from_checkpoint` read.
    ///
    /// - `tokenizerType`: recorded as `tokenizer_type` when there is no base (megatron compares
    ///   it when the run has a `--vocab-file`); default `GPT2BPETokenizer` for gpt2 and
    ///   `HuggingFaceTokenizer` for llama.
    /// - `process`: the `rank` / `local_rank` recorded (Megatron saves the writing process's).
    /// - The optimizer is recorded as non-distributed (`use_distributed_optimizer` False): the
    ///   writer stores its state in `model_optim_rng.pt`.
    public static func namespace(
        config: ModelConfig, shape: MegatronShape, dataParallel: Int, optimizer: OptimizerConfig?, paramsDType: DType, naming: MegatronNaming, savesRNG: Bool,
        base: PickleValue? = nil, tokenizerType: String? = nil,
        process: (rank: Int64, localRank: Int64) = (0, 0), path: String
    ) throws(ContainerError) -> PickleValue {
        if config.activation == "gelu_tanh" && !config.bias {
            throw .unsupported(
                path: path, detail: "activation gelu_tanh without biases: megatron-core uses the tanh GeLU only fused with a bias (bias_gelu_fusion)")
        }
        if let s = config.ropeScaling {
            let f = MegatronArgs.llama3Fixed
            guard s.type == "llama3", s.lowFreqFactor == f.low, s.highFreqFactor == f.high, s.originalMaxSeq == f.original else {
                throw .unsupported(
                    path: path,
                    detail:
                        "rope_scaling \(s.summary): megatron-core 0.16.1 applies Llama 3 scaling with low_freq_factor 1, high_freq_factor 4 and original 8192 only"
                )
            }
        }
        if config.residual != "sequential" {
            throw .unsupported(
                path: path, detail: "residual \(config.residual): megatron-core's TransformerLayer runs the MLP on the attention block's output")
        }
        var attrs: [PickleDictEntry] = []
        if case .object(let o)? = base, case .dict(let e)? = o.state { attrs = e }
        let fresh = attrs.isEmpty
        func set(_ k: String, _ v: PickleValue) {
            if let i = attrs.firstIndex(where: { $0.key == .string(k) }) {
                attrs[i].value = v
            } else {
                attrs.append(PickleDictEntry(key: .string(k), value: v))
            }
        }
        func setIfAbsent(_ k: String, _ v: PickleValue) {
            if !attrs.contains(where: { $0.key == .string(k) }) { attrs.append(PickleDictEntry(key: .string(k), value: v)) }
        }
        func int(_ i: Int) -> PickleValue { .int(Int64(i)) }
        let rope = config.position == "rope"
        set("num_layers", int(config.layers))
        set("hidden_size", int(config.hidden))
        set("ffn_hidden_size", int(config.ffn))
        set("num_attention_heads", int(config.heads))
        set("num_query_groups", int(config.kvHeads))
        set("kv_channels", int(config.hidden / config.heads))
        set("max_position_embeddings", int(config.maxSeq))
        setIfAbsent("seq_length", int(config.maxSeq))
        set("layernorm_epsilon", .float(config.normEps))
        let theta = config.ropeTheta
        set("rotary_base", theta == theta.rounded() && abs(theta) < 1e15 ? .int(Int64(theta)) : .float(theta))
        // The switches are rewritten only when the base does not already describe the model
        // (its own spellings are kept). add_position_embedding stays Megatron's default True
        // with rope too (megatron-core ignores it there, check_checkpoint_args compares it with
        // the run's, which is True unless the run passes --no-position-embedding).
        let switches: [(String, PickleValue)] = [
            ("group_query_attention", .bool(config.kvHeads != config.heads)),
            ("position_embedding_type", .string(rope ? "rope" : "learned_absolute")), ("add_position_embedding", .bool(true)),
            ("use_rotary_position_embeddings", .bool(rope)), ("rotary_percent", .float(config.rotaryPct)), ("rotary_interleaved", .bool(false)),
            ("add_bias_linear", .bool(config.bias)), ("add_qkv_bias", .bool(config.bias)), ("swiglu", .bool(config.activation == "swiglu")),
            ("squared_relu", .bool(false)), ("bias_gelu_fusion", .bool(config.activation == "gelu_tanh")),
            ("untie_embeddings_and_output_weights", .bool(!config.tieEmbeddings)),
            ("normalization", .string(config.norm == "rmsnorm" ? "RMSNorm" : "LayerNorm")), ("apply_layernorm_1p", .bool(false)),
            ("qk_layernorm", .bool(false)), ("num_experts", .none),
            ("use_rope_scaling", .bool(config.ropeScaling != nil)),
            ("rope_scaling_factor", .float(config.ropeScaling?.factor ?? MegatronArgs.defaultRopeScalingFactor)),
        ]
        let probe = PickleValue.object(
            PickleObject(
                type: PickleGlobal(module: "argparse", name: "Namespace"),
                state: .dict(
                    attrs + [
                        PickleDictEntry(key: .string("tensor_model_parallel_size"), value: int(shape.tp)),
                        PickleDictEntry(key: .string("pipeline_model_parallel_size"), value: int(shape.pp)),
                        PickleDictEntry(key: .string("make_vocab_size_divisible_by"), value: int(shape.vocabDivisibleBy)),
                        PickleDictEntry(key: .string("padded_vocab_size"), value: int(shape.paddedVocab(config.vocab))),
                        // The probe asks about the model only, not the pipeline.
                        PickleDictEntry(key: .string("virtual_pipeline_model_parallel_size"), value: .none),
                        PickleDictEntry(key: .string("num_layers_per_virtual_pipeline_stage"), value: .none),
                        PickleDictEntry(key: .string("num_virtual_stages_per_pipeline_rank"), value: .none),
                    ])))
        if fresh || (try? MegatronArgs(probe, path: path).modelConfig(vocab: config.vocab)) != config {
            for (k, v) in switches { set(k, v) }
        }
        set("make_vocab_size_divisible_by", int(shape.vocabDivisibleBy))
        set("padded_vocab_size", int(shape.paddedVocab(config.vocab)))
        set(MegatronArgs.recordedVocabKey, int(config.vocab))
        setIfAbsent("tokenizer_type", .string(tokenizerType ?? (config.family == "llama" ? "HuggingFaceTokenizer" : "GPT2BPETokenizer")))
        if let t = tokenizerType { set("tokenizer_type", .string(t)) }
        set("tensor_model_parallel_size", int(shape.tp))
        set("pipeline_model_parallel_size", int(shape.pp))
        setVirtualPipeline(shape: shape, layers: config.layers, attrs: &attrs, path: path)
        set("expert_model_parallel_size", int(1))
        let cp = (try? ArgReader(entries: attrs, path: path).int("context_parallel_size", atLeast: 1)) ?? nil
        set("context_parallel_size", int(cp ?? 1))
        set("data_parallel_size", int(dataParallel))
        let world = [shape.pp, cp ?? 1, dataParallel].reduce((shape.tp, false)) { acc, n in
            let (m, o) = acc.0.multipliedReportingOverflow(by: n)
            return (m, acc.1 || o)
        }
        if world.1 { throw .unsupported(path: path, detail: "world size TP x PP x CP x DP overflows") }
        set("world_size", int(world.0))
        set("rank", .int(process.rank))
        set("local_rank", .int(process.localRank))
        set("params_dtype", .global(PickleGlobal(module: "torch", name: TorchDTypeName.name(paramsDType))))
        set("bf16", .bool(paramsDType == .bfloat16))
        set("fp16", .bool(paramsDType == .float16))
        set("transformer_impl", .string(naming == .transformerEngine ? "transformer_engine" : "local"))
        set("ckpt_format", .string("torch"))
        set("use_dist_ckpt", .bool(false))
        set("use_distributed_optimizer", .bool(false))
        // Megatron's defaults are None: a base's value stays unless it contradicts the file.
        let reader = ArgReader(entries: attrs, path: path)
        if fresh || optimizer == nil || (try? reader.flag("no_save_optim")) != false { set("no_save_optim", .bool(optimizer == nil)) }
        if fresh || !savesRNG || (try? reader.flag("no_save_rng")) != false { set("no_save_rng", .bool(!savesRNG)) }
        if let o = optimizer {
            set("optimizer", .string("adam"))
            if fresh { set("lr", .float(o.lr)) }
            setIfAbsent("min_lr", .float(o.lr))
            set("adam_beta1", .float(o.beta1))
            set("adam_beta2", .float(o.beta2))
            set("adam_eps", .float(o.eps))
            set("weight_decay", .float(o.weightDecay))
            set("clip_grad", .float(o.gradClip))
        }
        // What validate_args derives and the optimizer config reads (as torch dtypes, not the
        // command line's strings).
        for k in ["main_grads_dtype", "main_params_dtype", "exp_avg_dtype", "exp_avg_sq_dtype"] {
            setIfAbsent(k, .global(PickleGlobal(module: "torch", name: "float32")))
        }
        for (k, v) in [
            ("consumed_train_samples", int(0)), ("consumed_valid_samples", int(0)), ("skipped_train_samples", int(0)),
            ("data_parallel_random_init", PickleValue.bool(false)), ("accumulate_allreduce_grads_in_fp32", .bool(false)),
            ("overlap_grad_reduce", .bool(false)), ("vocab_size", .none),
        ] {
            setIfAbsent(k, v)
        }
        return .object(PickleObject(type: PickleGlobal(module: "argparse", name: "Namespace"), state: .dict(attrs), construction: .newObject))
    }

    /// Records the virtual pipeline as `validate_args` leaves it:
    /// `virtual_pipeline_model_parallel_size` V (None for 1) and the argument it came from —
    /// `num_layers_per_virtual_pipeline_stage` L / (PP x V), or `num_virtual_stages_per_pipeline_rank`
    /// V when the source's args used that one (Megatron-LM accepts only one of the two; both
    /// None for 1). Without a virtual pipeline `validate_args` turns `overlap_p2p_comm` and
    /// `align_param_gather` off; a target with one, from a source without, gets Megatron-LM's
    /// defaults back (on: the interleaved schedule at PP 2 needs `overlap_p2p_comm`).
    private static func setVirtualPipeline(shape: MegatronShape, layers: Int, attrs: inout [PickleDictEntry], path: String) {
        func has(_ k: String) -> Bool { attrs.contains { $0.key == .string(k) } }
        func set(_ k: String, _ v: PickleValue) {
            if let i = attrs.firstIndex(where: { $0.key == .string(k) }) {
                attrs[i].value = v
            } else {
                attrs.append(PickleDictEntry(key: .string(k), value: v))
            }
        }
        let r = ArgReader(entries: attrs, path: path)
        let sourceVPP = (try? r.int("virtual_pipeline_model_parallel_size", atLeast: 1)) ?? nil
        let byStages = ((try? r.int("num_virtual_stages_per_pipeline_rank", atLeast: 1)) ?? nil) != nil
        let v = shape.vpp
        set("virtual_pipeline_model_parallel_size", v > 1 ? .int(Int64(v)) : .none)
        if byStages {
            set("num_virtual_stages_per_pipeline_rank", v > 1 ? .int(Int64(v)) : .none)
            set("num_layers_per_virtual_pipeline_stage", .none)
        } else {
            set("num_layers_per_virtual_pipeline_stage", v > 1 ? .int(Int64(layers / shape.chunks)) : .none)
            if has("num_virtual_stages_per_pipeline_rank") { set("num_virtual_stages_per_pipeline_rank", .none) }
        }
        for k in ["overlap_p2p_comm", "align_param_gather"] {
            if v == 1 {
                if has(k) { set(k, .bool(false)) }
            } else if (sourceVPP ?? 1) == 1 {
                set(k, .bool(true))
            }
        }
    }
}
