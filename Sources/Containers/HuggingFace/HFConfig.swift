import CheckpointStore

/// A Hugging Face `config.json` mapped to ckpt's `ModelConfig`, for `model_type` `gpt2`
/// (`GPT2LMHeadModel`), `llama` (`LlamaForCausalLM`) and `gpt_neox` (`GPTNeoXForCausalLM`,
/// ckpt family `neox`), both ways.
///
/// Reading is strict: an unknown `model_type`, a member that may change the tensors or the
/// math and that ckpt does not map (an unknown key, a rotary type other than `default`,
/// `llama3` and `linear`, `quantization_config`, ...), a contradiction (`head_dim` ≠ hidden /
/// heads, `attention_bias` ≠ `mlp_bias`, `rope_theta` twice with two values, `rope_scaling`
/// and `rope_parameters` disagreeing) or an activation ckpt does not compute is an error naming
/// the member. RoPE scaling (`llama3`, `linear`) is read from `rope_parameters` (transformers
/// 5) or `rope_scaling` (transformers 4) into `ModelConfig.ropeScaling`. Members that change neither tensors nor math (dtype,
/// architectures, token ids, dropout probabilities, generation settings, ...) are accepted,
/// listed in `ignored` and kept in `extra`, so writing the config back preserves them.
/// Math members that are absent take transformers' defaults and are listed in `assumed`.
public struct HFConfig: Sendable, Equatable {
    /// The HF `model_type`: `gpt2`, `llama` or `gpt_neox`.
    public var modelType: String
    /// The architecture.
    public var model: ModelConfig
    /// The weights' dtype the config declares (`dtype`, or `torch_dtype` before transformers
    /// 5), when it names one ckpt knows.
    public var dtype: DType?
    /// Members accepted without effect on tensors or math, in document order.
    public var ignored: [String]
    /// Math members that were absent, with the transformers default assumed (`n_inner=null`).
    public var assumed: [String]
    /// The ignored members with their values, written back by `jsonText()` (except
    /// `architectures`, `model_type`, `dtype`, `torch_dtype` and `transformers_version`,
    /// which the writer sets itself).
    public var extra: JSONObject

    /// The largest config.json read.
    public static let maxFileBytes = 16 << 20

    /// A configuration to write for `model` (see `jsonText`); fails when `model` cannot be
    /// expressed as an HF `gpt2`, `llama` or `gpt_neox` config.
    public init(model: ModelConfig, dtype: DType? = nil, extra: JSONObject = JSONObject(), path: String = "config.json") throws(ContainerError) {
        if let p = model.validationProblem() { throw .malformed(path: path, detail: "model config: \(p)") }
        guard model.normEps.isFinite && model.normEps > 0 else {
            throw .malformed(path: path, detail: "model config: norm_eps must be a positive number (got \(model.normEps))")
        }
        switch model.family {
        case "gpt2": try Self.checkGPT2(model, path: path)
        case "neox": try Self.checkNeoX(model, path: path)
        default: try Self.checkLlama(model, path: path)
        }
        self.modelType = model.family == "neox" ? "gpt_neox" : model.family
        self.model = model
        self.dtype = dtype
        self.ignored = extra.keys
        self.assumed = []
        self.extra = extra
    }

    /// Reads and maps the config.json at `path`.
    public static func read(path: String) throws(ContainerError) -> HFConfig {
        try HFConfig(json: SmallFile.read(path, maxBytes: maxFileBytes), path: path)
    }

    /// Maps the text of a config.json (`path` names it in messages).
    public init(json bytes: [UInt8], path: String) throws(ContainerError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .malformed(path: path, detail: "not valid JSON: \(error)") }
        guard let object = value.objectValue else { throw .malformed(path: path, detail: "not a JSON object") }
        var fields = HFConfigFields(object, path: path)
        guard let typeValue = fields.value("model_type") else { throw .malformed(path: path, detail: "model_type: missing") }
        guard let type = typeValue.stringValue else { throw fields.bad("model_type", "expected a string, found \(fields.describe(typeValue))") }
        switch type {
        case "gpt2": model = try Self.mapGPT2(&fields)
        case "llama": model = try Self.mapLlama(&fields)
        case "gpt_neox": model = try Self.mapNeoX(&fields)
        default:
            throw .unsupported(path: path, detail: "model_type \(JSONReader.quote(type)) (ckpt maps gpt2, llama and gpt_neox)")
        }
        if let p = model.validationProblem() { throw .malformed(path: path, detail: p) }
        guard model.normEps > 0 else {
            let key = ["gpt2": "layer_norm_epsilon", "gpt_neox": "layer_norm_eps"][type] ?? "rms_norm_eps"
            throw .malformed(path: path, detail: "\(key) must be positive (found \(model.normEps))")
        }
        modelType = type
        var extra = JSONObject()
        for key in fields.unused {
            guard Self.isIgnorable(key) else {
                throw .unsupported(
                    path: path,
                    detail: "member \(JSONReader.quote(key)) is not one ckpt maps for \(type); it may change the tensors or the math")
            }
            if let v = object[key] {
                if key == "pruned_heads", v.objectValue.map({ $0.count > 0 }) ?? !v.isNull {
                    throw .unsupported(path: path, detail: "pruned_heads: pruned attention heads change the tensors")
                }
                extra.insert(key, v)
            }
        }
        self.extra = extra
        ignored = extra.keys
        assumed = fields.assumed
        let dtypeName = object["dtype"]?.stringValue ?? object["torch_dtype"]?.stringValue
        dtype = dtypeName.flatMap(Self.dtype(named:))
    }

    /// The config.json text transformers 5 loads: Python's `json.dumps(indent=2,
    /// sort_keys=True)` layout and a final newline, as `save_pretrained` writes it.
    public func jsonText() -> String { JSONText.pretty(.object(jsonObject())) + "\n" }

    /// Members that change neither tensors nor math, accepted by every mapping.
    static let ignorable: Set<String> = [
        "architectures", "dtype", "torch_dtype", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
        "sep_token_id", "decoder_start_token_id", "use_cache", "initializer_range", "output_hidden_states",
        "output_attentions", "return_dict", "chunk_size_feed_forward", "id2label", "label2id", "problem_type",
        "tokenizer_class", "prefix", "task_specific_params", "torchscript", "use_bfloat16", "tf_legacy_loss",
        "finetuning_task", "pruned_heads", "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size",
        "tie_encoder_decoder", "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
        "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty",
        "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
        "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "gradient_checkpointing",
        // GPT-2: dropout, the double-heads model's summary head, the old causal-mask size.
        "attn_pdrop", "embd_pdrop", "resid_pdrop", "summary_type", "summary_use_proj", "summary_activation",
        "summary_proj_to_labels", "summary_first_dropout", "n_ctx",
        // LLaMA: dropout; tensor-parallel slicing of the pretraining run (same math).
        "attention_dropout", "pretraining_tp",
        // GPT-NeoX: dropout (classifier_dropout is the sequence-classification head's).
        "hidden_dropout", "classifier_dropout",
    ]

    /// Whether an unmapped member may be ignored: listed, or private (`_name_or_path`).
    static func isIgnorable(_ key: String) -> Bool { ignorable.contains(key) || key.hasPrefix("_") }

    /// The ckpt dtype of a transformers dtype name (`float32`, `bfloat16`, ...).
    static func dtype(named name: String) -> DType? {
        switch name {
        case "float32": return .float32
        case "float16": return .float16
        case "bfloat16": return .bfloat16
        case "float64": return .float64
        default: return nil
        }
    }

    /// The transformers dtype name of a ckpt dtype (transformers names dtypes as torch does).
    static func name(of dtype: DType) -> String { TorchDTypeName.name(dtype) }
}
