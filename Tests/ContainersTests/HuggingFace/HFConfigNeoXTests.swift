import CheckpointStore
import Testing

@testable import Containers

/// config.json ↔ ModelConfig for `gpt_neox` (ckpt family neox), both spellings transformers
/// has used, every refusal, and the gpt2 / llama writers refusing what they cannot express.
@Suite struct HFConfigNeoXTests {
    let path = "config.json"

    /// transformers 5.24's `GPTNeoXConfig(..., rotary_pct=0.25, rotary_emb_base=25000)`
    /// save_pretrained output (Tests/Fixtures/interop/hf-neox/config.json).
    static let neox5 = #"""
        {"architectures": ["GPTNeoXForCausalLM"], "attention_bias": true, "attention_dropout": 0.0, "bos_token_id": 1,
         "classifier_dropout": 0.1, "dtype": "float16", "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout": 0.0,
         "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 128, "is_decoder": false, "layer_norm_eps": 1e-05,
         "max_position_embeddings": 64, "model_type": "gpt_neox", "num_attention_heads": 4, "num_hidden_layers": 2,
         "pad_token_id": null, "rope_parameters": {"partial_rotary_factor": 0.25, "rope_theta": 25000, "rope_type": "default"},
         "tie_word_embeddings": false, "transformers_version": "5.24.0", "use_cache": true, "use_parallel_residual": true,
         "vocab_size": 101}
        """#

    /// The transformers 4 spelling of EleutherAI/pythia-160m's config.json.
    static let pythia = #"""
        {"architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
         "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
         "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 12, "num_hidden_layers": 12,
         "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": false, "torch_dtype": "float16",
         "transformers_version": "4.24.0", "use_cache": true, "use_parallel_residual": true, "vocab_size": 50304}
        """#

    func map(_ text: String) throws(ContainerError) -> HFConfig { try HFConfig(json: Array(text.utf8), path: path) }

    func edited(_ base: String, _ changes: [String: String?]) throws -> String {
        let o = try #require(try JSONValue.parse(Array(base.utf8)).objectValue)
        var out = JSONObject()
        for (k, v) in o.members {
            if let c = changes[k] {
                if let c { out.insert(k, try JSONValue.parse(Array(c.utf8))) }
            } else {
                out.insert(k, v)
            }
        }
        for (k, c) in changes.sorted(by: { $0.key < $1.key }) where o[k] == nil {
            if let c { out.insert(k, try JSONValue.parse(Array(c.utf8))) }
        }
        return JSONText.compact(.object(out))
    }

    @Test func transformers5ConfigMaps() throws {
        let c = try map(Self.neox5)
        #expect(c.modelType == "gpt_neox")
        #expect(
            c.model
                == ModelConfig(
                    family: "neox", layers: 2, hidden: 64, heads: 4, ffn: 128, vocab: 101, maxSeq: 64, normEps: 1e-5, activation: "gelu",
                    tieEmbeddings: false, norm: "layernorm", position: "rope", ropeTheta: 25000, bias: true, residual: "parallel", rotaryPct: 0.25))
        #expect(c.dtype == .float16)
        #expect(c.assumed.isEmpty)
        #expect(c.ignored.contains("hidden_dropout") && c.ignored.contains("classifier_dropout") && !c.ignored.contains("rope_parameters"))
    }

    @Test func pythiaConfigMapsToThePreset() throws {
        let c = try map(Self.pythia)
        #expect(c.model == ModelConfig.preset(family: "neox", name: "160m"))
        // attention_bias is absent in transformers 4 files: GPT-NeoX always had the biases.
        #expect(c.assumed == ["attention_bias=true"])
        #expect(c.dtype == .float16)
    }

    @Test func variantsMap() throws {
        let sequential = try map(try edited(Self.pythia, ["use_parallel_residual": "false"]))
        #expect(sequential.model.residual == "sequential" && sequential.model.family == "neox")
        // GPT-NeoX-20B spells the tanh GeLU gelu_fast.
        for act in ["gelu_fast", "gelu_new", "gelu_pytorch_tanh"] {
            #expect(try map(try edited(Self.pythia, ["hidden_act": "\"\(act)\""])).model.activation == "gelu_tanh")
        }
        let tied = try map(try edited(Self.neox5, ["tie_word_embeddings": "true"]))
        #expect(tied.model.tieEmbeddings)
        // Both spellings at once, agreeing.
        let both = try map(try edited(Self.neox5, ["rotary_pct": "0.25", "rotary_emb_base": "25000", "rope_theta": "25000.0"]))
        #expect(both.model == (try map(Self.neox5)).model)
        let bare = try map(try edited(Self.pythia, ["rotary_pct": nil, "rotary_emb_base": nil]))
        #expect(bare.model.rotaryPct == 0.25 && bare.model.ropeTheta == 10000)
        #expect(bare.assumed.contains("rotary_pct=0.25") && bare.assumed.contains("rope_theta=10000.0"))
    }

    @Test(
        arguments: [
            (
                ["attention_bias": "false"],
                ContainerError.unsupported(
                    path: "config.json",
                    detail:
                        "attention_bias = false: GPT-NeoX keeps the biases of its LayerNorms and MLP, and ckpt's model has biases on every linear layer or on none"
                )
            ),
            (
                ["hidden_act": "\"relu\""],
                .unsupported(
                    path: "config.json", detail: "hidden_act \"relu\" (ckpt computes gelu, and gelu_new / gelu_fast / gelu_pytorch_tanh as gelu_tanh)")
            ),
            (["rotary_pct": "0.5"], .malformed(path: "config.json", detail: "rotary_pct 0.5 contradicts rope_parameters.partial_rotary_factor 0.25")),
            (["rotary_emb_base": "10000"], .malformed(path: "config.json", detail: "rotary_emb_base 10000.0 contradicts rope_parameters.rope_theta 25000.0")),
            (["rope_theta": "10000"], .malformed(path: "config.json", detail: "rope_theta 10000.0 contradicts rope_parameters.rope_theta 25000.0")),
            (
                ["rope_parameters": #"{"rope_type":"dynamic","rope_theta":10000.0,"factor":2.0}"#],
                .unsupported(path: "config.json", detail: "rope_parameters.rope_type \"dynamic\": ckpt computes default, llama3 and linear RoPE only")
            ),
            (
                ["rope_parameters": #"{"rope_type":"default","rope_theta":10000.0,"partial_rotary_factor":0}"#],
                .malformed(path: "config.json", detail: "rope_parameters.partial_rotary_factor: must be in (0, 1], found 0.0")
            ),
            (
                ["rope_parameters": #"{"rope_type":"default","rope_theta":10000.0,"partial_rotary_factor":0.1}"#],
                .malformed(
                    path: "config.json",
                    detail: "rotary_pct 0.1 of head_dim 16 gives 1 rotary dimensions; it must be even and at least 2")
            ),
            (
                ["head_dim": "16"],
                .unsupported(path: "config.json", detail: "member \"head_dim\" is not one ckpt maps for gpt_neox; it may change the tensors or the math")
            ),
            (["layer_norm_eps": "0"], .malformed(path: "config.json", detail: "layer_norm_eps must be positive (found 0.0)")),
            (["num_attention_heads": "5"], .malformed(path: "config.json", detail: "heads (5) must divide hidden (64)")),
            (
                ["max_position_embeddings": nil],
                .malformed(path: "config.json", detail: "max_position_embeddings: missing (ckpt needs it to know the tensors' shapes)")
            ),
        ] as [([String: String?], ContainerError)])
    func refusals(changes: [String: String?], error: ContainerError) throws {
        let text = try edited(Self.neox5, changes)
        #expect(throws: error) { try map(text) }
    }

    @Test(arguments: [
        ModelConfig.preset(family: "neox", name: "tiny")!,
        ModelConfig(
            family: "neox", layers: 3, hidden: 48, heads: 3, ffn: 100, vocab: 77, maxSeq: 32, normEps: 1e-6, activation: "gelu_tanh",
            tieEmbeddings: true, ropeTheta: 500000, residual: "sequential", rotaryPct: 0.5),
    ])
    func modelConfigToConfigJSONAndBack(model: ModelConfig) throws {
        let written = try HFConfig(model: model, dtype: .float16)
        #expect(written.modelType == "gpt_neox")
        let text = written.jsonText()
        let back = try map(text)
        #expect(back.model == model)
        #expect(back.assumed.isEmpty)
        // Both spellings, for transformers 5 and 4.
        let o = try #require(try JSONValue.parse(Array(text.utf8)).objectValue)
        #expect(o["rotary_pct"]?.doubleValue == model.rotaryPct && o["rotary_emb_base"]?.doubleValue == model.ropeTheta)
        #expect(o["rope_parameters"]?.objectValue?["partial_rotary_factor"]?.doubleValue == model.rotaryPct)
        #expect(o["use_parallel_residual"]?.boolValue == (model.residual == "parallel"))
        #expect(o["model_type"]?.stringValue == "gpt_neox" && o["architectures"] == .array([.string("GPTNeoXForCausalLM")]))
    }

    @Test(arguments: [
        (
            ModelConfig(family: "neox", layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 5, maxSeq: 3),
            "model config: HF gpt_neox cannot express kv_heads 1 ≠ heads 2 (query_key_value is fused per head)"
        ),
        (
            ModelConfig(family: "neox", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, bias: false),
            "model config: HF gpt_neox cannot express a model without biases (its LayerNorms and MLP always have them)"
        ),
        (
            ModelConfig(family: "neox", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, norm: "rmsnorm"),
            "model config: HF gpt_neox cannot express norm rmsnorm"
        ),
        (
            ModelConfig(family: "neox", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, activation: "swiglu"),
            "model config: HF gpt_neox cannot express activation swiglu"
        ),
        (
            ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, residual: "parallel"),
            "model config: HF llama cannot express residual parallel (LlamaDecoderLayer adds attention, then the MLP)"
        ),
        (
            ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, rotaryPct: 0.5),
            "model config: HF llama cannot express rotary_pct 0.5 (LlamaAttention rotates the whole head)"
        ),
        (
            ModelConfig(family: "gpt2", layers: 1, hidden: 16, heads: 2, vocab: 5, maxSeq: 3, residual: "parallel"),
            "model config: HF gpt2 cannot express residual parallel (GPT2Block adds attention, then the MLP)"
        ),
    ])
    func writerRefusals(model: ModelConfig, detail: String) {
        #expect(throws: ContainerError.unsupported(path: "config.json", detail: detail)) { _ = try HFConfig(model: model) }
    }
}
