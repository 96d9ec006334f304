import CheckpointStore
import Testing

@testable import Containers

/// config.json ↔ ModelConfig for gpt2 and llama, and every refusal.
@Suite struct HFConfigTests {
    let path = "config.json"

    /// transformers 5.24's `GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=101,
    /// n_positions=64).save_pretrained` output.
    static let gpt2 = #"""
        {"activation_function": "gelu_new", "add_cross_attention": false, "architectures": ["GPT2LMHeadModel"],
         "attn_pdrop": 0.1, "bos_token_id": 100, "dtype": "float32", "embd_pdrop": 0.1, "eos_token_id": 100,
         "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": 32, "n_head": 4,
         "n_inner": null, "n_layer": 2, "n_positions": 64, "pad_token_id": null, "reorder_and_upcast_attn": false,
         "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true,
         "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
         "summary_type": "cls_index", "summary_use_proj": true, "tie_word_embeddings": true,
         "transformers_version": "5.24.0", "use_cache": true, "vocab_size": 101}
        """#

    /// transformers 5.24's LlamaConfig output (GQA: 4 heads, 2 KV heads).
    static let llama = #"""
        {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 1,
         "dtype": "bfloat16", "eos_token_id": 2, "head_dim": 8, "hidden_act": "silu", "hidden_size": 32,
         "initializer_range": 0.02, "intermediate_size": 48, "max_position_embeddings": 64, "mlp_bias": false,
         "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
         "pad_token_id": null, "pretraining_tp": 1, "rms_norm_eps": 1e-06,
         "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}, "tie_word_embeddings": false,
         "transformers_version": "5.24.0", "use_cache": true, "vocab_size": 101}
        """#

    func map(_ text: String) throws(ContainerError) -> HFConfig { try HFConfig(json: Array(text.utf8), path: path) }

    /// `base` with members replaced (`nil` removes one).
    func edited(_ base: String, _ changes: [String: String?]) throws -> String {
        var o = try #require(try JSONValue.parse(Array(base.utf8)).objectValue)
        var out = JSONObject()
        for (k, v) in o.members {
            if let c = changes[k] {
                if let c { out.insert(k, try JSONValue.parse(Array(c.utf8))) }
            } else {
                out.insert(k, v)
            }
        }
        for (k, c) in changes where o[k] == nil { if let c { out.insert(k, try JSONValue.parse(Array(c.utf8))) } }
        o = out
        return JSONText.compact(.object(o))
    }

    @Test func gpt2MapsToModelConfig() throws {
        let c = try map(Self.gpt2)
        #expect(c.modelType == "gpt2")
        #expect(c.model == ModelConfig(family: "gpt2", layers: 2, hidden: 32, heads: 4, vocab: 101, maxSeq: 64))
        #expect(c.model.ffn == 128 && c.model.activation == "gelu_tanh" && c.model.tieEmbeddings && c.model.bias)
        #expect(c.dtype == .float32)
        #expect(c.assumed.isEmpty)
        #expect(c.ignored.contains("attn_pdrop") && c.ignored.contains("bos_token_id") && c.ignored.contains("summary_type"))
        #expect(!c.ignored.contains("n_embd"))
    }

    @Test func llamaMapsToModelConfig() throws {
        let c = try map(Self.llama)
        #expect(
            c.model
                == ModelConfig(
                    family: "llama", layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 101, maxSeq: 64, normEps: 1e-6,
                    ropeTheta: 10000))
        #expect(c.model.activation == "swiglu" && !c.model.tieEmbeddings && !c.model.bias && c.model.norm == "rmsnorm")
        #expect(c.dtype == .bfloat16)
        #expect(
            c.ignored == [
                "architectures", "attention_dropout", "bos_token_id", "dtype", "eos_token_id", "initializer_range", "pad_token_id",
                "pretraining_tp", "transformers_version", "use_cache",
            ])
    }

    @Test func gpt2Defaults() throws {
        let c = try map(#"{"model_type":"gpt2","n_layer":1,"n_embd":8,"n_head":2,"vocab_size":10,"n_positions":4}"#)
        #expect(c.model == ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 10, maxSeq: 4))
        #expect(c.assumed == ["n_inner=null", "layer_norm_epsilon=1e-05", "activation_function=gelu_new", "tie_word_embeddings=true"])
    }

    @Test func llamaDefaultsAndLegacyRopeTheta() throws {
        let c = try map(
            #"{"model_type":"llama","num_hidden_layers":1,"hidden_size":8,"num_attention_heads":2,"intermediate_size":16,"vocab_size":10,"max_position_embeddings":4,"rope_theta":500000.0,"rope_scaling":null}"#
        )
        #expect(c.model.kvHeads == 2 && c.model.ropeTheta == 500000 && c.model.normEps == 1e-6 && !c.model.tieEmbeddings)
        #expect(
            c.assumed == [
                "num_key_value_heads=num_attention_heads", "rms_norm_eps=1e-06", "hidden_act=silu", "tie_word_embeddings=false", "attention_bias=false",
                "mlp_bias=false",
            ])
    }

    @Test func gpt2Variants() throws {
        let inner = try map(try edited(Self.gpt2, ["n_inner": "100", "activation_function": "\"gelu\"", "tie_word_embeddings": "false"]))
        #expect(inner.model.ffn == 100 && inner.model.activation == "gelu" && !inner.model.tieEmbeddings)
        #expect(try map(try edited(Self.gpt2, ["activation_function": "\"gelu_pytorch_tanh\""])).model.activation == "gelu_tanh")
    }

    @Test func llamaWithBiases() throws {
        let c = try map(try edited(Self.llama, ["attention_bias": "true", "mlp_bias": "true"]))
        #expect(c.model.bias)
    }

    @Test(
        arguments: [
            // (member changes, expected error)
            (
                ["model_type": "\"mistral\""],
                ContainerError.unsupported(path: "config.json", detail: "model_type \"mistral\" (ckpt maps gpt2, llama and gpt_neox)")
            ),
            (["model_type": nil], .malformed(path: "config.json", detail: "model_type: missing")),
            (["n_layer": nil], .malformed(path: "config.json", detail: "n_layer: missing (ckpt needs it to know the tensors' shapes)")),
            (["n_embd": "32.0"], .malformed(path: "config.json", detail: "n_embd: expected a positive integer, found the number 32.0")),
            (["n_head": "0"], .malformed(path: "config.json", detail: "n_head: expected a positive integer, found the integer 0")),
            (["n_head": "5"], .malformed(path: "config.json", detail: "heads (5) must divide hidden (32)")),
            (["n_inner": "-4"], .malformed(path: "config.json", detail: "n_inner: expected a positive integer or null, found the integer -4")),
            (["n_inner": "\"128\""], .malformed(path: "config.json", detail: "n_inner: expected a positive integer or null, found the string \"128\"")),
            (
                ["activation_function": "\"relu\""],
                .unsupported(path: "config.json", detail: "activation_function \"relu\" (ckpt computes gelu_new, gelu_pytorch_tanh and gelu)")
            ),
            (
                ["scale_attn_weights": "false"],
                .unsupported(path: "config.json", detail: "scale_attn_weights = false: ckpt always scales attention scores by 1/sqrt(head_dim)")
            ),
            (
                ["scale_attn_by_inverse_layer_idx": "true"],
                .unsupported(path: "config.json", detail: "scale_attn_by_inverse_layer_idx = true: ckpt does not scale attention by the layer index")
            ),
            (
                ["add_cross_attention": "true"],
                .unsupported(path: "config.json", detail: "add_cross_attention = true: cross-attention adds tensors ckpt does not model")
            ),
            (["layer_norm_epsilon": "0"], .malformed(path: "config.json", detail: "layer_norm_epsilon must be positive (found 0.0)")),
            (["tie_word_embeddings": "1"], .malformed(path: "config.json", detail: "tie_word_embeddings: expected true or false, found the integer 1")),
            (
                ["quantization_config": "{\"bits\":4}"],
                .unsupported(path: "config.json", detail: "member \"quantization_config\" is not one ckpt maps for gpt2; it may change the tensors or the math")
            ),
            (
                ["rotary_dim": "8"],
                .unsupported(path: "config.json", detail: "member \"rotary_dim\" is not one ckpt maps for gpt2; it may change the tensors or the math")
            ),
            (["pruned_heads": "{\"0\":[1]}"], .unsupported(path: "config.json", detail: "pruned_heads: pruned attention heads change the tensors")),
        ] as [([String: String?], ContainerError)])
    func gpt2Refusals(changes: [String: String?], error: ContainerError) throws {
        let text = try edited(Self.gpt2, changes)
        #expect(throws: error) { try map(text) }
    }

    @Test(
        arguments: [
            (
                ["head_dim": "16"],
                ContainerError.malformed(
                    path: "config.json",
                    detail: "head_dim 16 contradicts hidden_size / num_attention_heads = 32 / 4 (ckpt's attention has hidden = heads x head_dim)")
            ),
            (
                ["attention_bias": "true"],
                .unsupported(
                    path: "config.json", detail: "attention_bias = true but mlp_bias = false (ckpt's model has biases on every linear layer or on none)")
            ),
            (["hidden_act": "\"gelu\""], .unsupported(path: "config.json", detail: "hidden_act \"gelu\" (ckpt's LLaMA MLP is SwiGLU: silu)")),
            (["num_key_value_heads": "3"], .malformed(path: "config.json", detail: "kv_heads (3) must divide heads (4)")),
            (
                ["rope_scaling": #"{"rope_type":"llama3","factor":8.0}"#],
                .malformed(
                    path: "config.json",
                    detail:
                        "rope_scaling.low_freq_factor: missing (rope_type llama3 needs factor, low_freq_factor, high_freq_factor, original_max_position_embeddings)"
                )
            ),
            (
                ["rope_scaling": #"{"type":"linear","factor":2.0}"#],
                .malformed(path: "config.json", detail: "rope_scaling linear (factor 2.0) contradicts rope_parameters default")
            ),
            (
                ["rope_parameters": #"{"rope_type":"yarn","rope_theta":10000.0,"factor":4.0}"#],
                .unsupported(path: "config.json", detail: "rope_parameters.rope_type \"yarn\": ckpt computes default, llama3 and linear RoPE only")
            ),
            (
                ["rope_parameters": #"{"rope_type":"default","rope_theta":10000.0,"partial_rotary_factor":0.5}"#],
                .unsupported(path: "config.json", detail: "rope_parameters.partial_rotary_factor: not a member of rope_type default that ckpt maps")
            ),
            (["rope_theta": "500000.0"], .malformed(path: "config.json", detail: "rope_theta 500000.0 contradicts rope_parameters.rope_theta 10000.0")),
            (
                ["rope_parameters": #"{"rope_type":"default","rope_theta":-1}"#],
                .malformed(path: "config.json", detail: "rope_theta: must be positive, found -1.0")
            ),
            (["rms_norm_eps": "\"1e-6\""], .malformed(path: "config.json", detail: "rms_norm_eps: expected a number, found the string \"1e-6\"")),
            (
                ["sliding_window": "4096"],
                .unsupported(path: "config.json", detail: "member \"sliding_window\" is not one ckpt maps for llama; it may change the tensors or the math")
            ),
            (["intermediate_size": nil], .malformed(path: "config.json", detail: "intermediate_size: missing (ckpt needs it to know the tensors' shapes)")),
        ] as [([String: String?], ContainerError)])
    func llamaRefusals(changes: [String: String?], error: ContainerError) throws {
        let text = try edited(Self.llama, changes)
        #expect(throws: error) { try map(text) }
    }

    @Test func duplicateMembersAndNonObjectsAreRefused() {
        #expect(throws: ContainerError.malformed(path: path, detail: "not valid JSON: duplicate key \"n_layer\" at byte 33")) {
            try map(#"{"model_type":"gpt2","n_layer":2,"n_layer":3}"#)
        }
        #expect(throws: ContainerError.malformed(path: path, detail: "not a JSON object")) { try map("[]") }
    }

    @Test(arguments: ["gpt2", "llama"])
    func modelConfigRoundTripsThroughConfigJSON(type: String) throws {
        let original = try map(type == "gpt2" ? Self.gpt2 : Self.llama)
        let text = original.jsonText()
        let back = try map(text)
        #expect(back.model == original.model)
        #expect(back.dtype == original.dtype)
        // Every kept member comes back with its value, except the version the writer does not claim.
        #expect(back.extra.keys.sorted() == original.extra.keys.filter { $0 != "transformers_version" }.sorted())
        for k in back.extra.keys { #expect(back.extra[k] == original.extra[k], "\(k)") }
        #expect(back.assumed.isEmpty)
        #expect(text.hasSuffix("}\n"))
    }

    @Test(arguments: [
        ModelConfig(family: "gpt2", layers: 3, hidden: 48, heads: 6, ffn: 100, vocab: 77, maxSeq: 32, normEps: 1e-4, activation: "gelu", tieEmbeddings: false),
        ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 1, vocab: 5, maxSeq: 3),
        ModelConfig(
            family: "llama", layers: 2, hidden: 64, heads: 8, kvHeads: 2, ffn: 172, vocab: 1000, maxSeq: 128, normEps: 1e-5, tieEmbeddings: true,
            ropeTheta: 500000, bias: true),
        ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, ffn: 40, vocab: 10, maxSeq: 8),
    ])
    func modelConfigToConfigJSONAndBack(model: ModelConfig) throws {
        let written = try HFConfig(model: model, dtype: .bfloat16)
        let back = try map(written.jsonText())
        #expect(back.model == model || (model.family == "gpt2" && back.model.ropeTheta == 10000))
        #expect(back.dtype == .bfloat16)
        #expect(back.assumed.isEmpty)
    }

    @Test func writtenLlamaConfigHasBothRopeSpellingsAndHeadDim() throws {
        let model = ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, ffn: 40, vocab: 10, maxSeq: 8, ropeTheta: 250000)
        let o = try #require(try JSONValue.parse(Array(try HFConfig(model: model).jsonText().utf8)).objectValue)
        #expect(o["rope_theta"]?.doubleValue == 250000)
        #expect(o["rope_parameters"]?.objectValue?["rope_theta"]?.doubleValue == 250000)
        #expect(o["head_dim"]?.intValue == 8)
        #expect(o["architectures"] == .array([.string("LlamaForCausalLM")]))
    }

    @Test(arguments: [
        (
            ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, kvHeads: 1, vocab: 5, maxSeq: 3),
            "model config: HF gpt2 cannot express kv_heads 1 ≠ heads 2"
        ),
        (
            ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3, activation: "swiglu"),
            "model config: HF gpt2 cannot express activation swiglu"
        ),
        (
            ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3, norm: "rmsnorm"),
            "model config: HF gpt2 cannot express norm rmsnorm"
        ),
        (
            ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3, bias: false),
            "model config: HF gpt2 cannot express a model without biases"
        ),
        (
            ModelConfig(family: "llama", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3, position: "learned"),
            "model config: HF llama cannot express position learned"
        ),
        (
            ModelConfig(family: "llama", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3, activation: "gelu"),
            "model config: HF llama cannot express activation gelu"
        ),
    ])
    func modelConfigsHFCannotExpress(model: ModelConfig, detail: String) {
        #expect(throws: ContainerError.unsupported(path: "config.json", detail: detail)) { _ = try HFConfig(model: model) }
    }

    @Test func keptMembersAreWrittenBack() throws {
        let c = try map(Self.gpt2)
        let o = try #require(try JSONValue.parse(Array(c.jsonText().utf8)).objectValue)
        #expect(o["bos_token_id"]?.intValue == 100)
        #expect(o["summary_type"]?.stringValue == "cls_index")
        #expect(o["transformers_version"] == nil)
        #expect(o["dtype"]?.stringValue == "float32")
    }
}
