/// How megatron-core names a GPT model's tensors in a `torch`-format state dict.
///
/// ckpt's Megatron layout (`formats/layouts/megatron-gpt.json`) uses the names of
/// megatron-core's local layer spec. The Transformer Engine spec fuses each pre-norm into the
/// linear layer after it, so its norms are named differently (and its modules add
/// `_extra_state` entries):
///
/// | local spec | Transformer Engine spec |
/// |---|---|
/// | `decoder.layers.{j}.input_layernorm.{weight,bias}` | `decoder.layers.{j}.self_attention.linear_qkv.layer_norm_{weight,bias}` |
/// | `decoder.layers.{j}.pre_mlp_layernorm.{weight,bias}` | `decoder.layers.{j}.mlp.linear_fc1.layer_norm_{weight,bias}` |
public enum MegatronNaming: String, Sendable, Hashable, CaseIterable {
    /// megatron-core's local spec (`transformer_impl = local`): ckpt's names.
    case local
    /// The Transformer Engine spec (`transformer_impl = transformer_engine`).
    case transformerEngine

    private static let fused: [(local: String, te: String)] = [
        ("input_layernorm.weight", "self_attention.linear_qkv.layer_norm_weight"),
        ("input_layernorm.bias", "self_attention.linear_qkv.layer_norm_bias"),
        ("pre_mlp_layernorm.weight", "mlp.linear_fc1.layer_norm_weight"),
        ("pre_mlp_layernorm.bias", "mlp.linear_fc1.layer_norm_bias"),
    ]

    /// The prefix ckpt puts before the names of model chunk `chunk` of a virtual pipeline of
    /// `vpp` chunks: its state dict's key in the rank file and a dot (`model1.`); none without a
    /// virtual pipeline (the one state dict is `model`). The Megatron layout table names chunks
    /// the same way (`chunk_prefix` in `formats/layouts/megatron-gpt.json`).
    public static func chunkPrefix(_ chunk: Int, of vpp: Int) -> String {
        vpp > 1 ? "model\(chunk)." : ""
    }

    /// Splits a ckpt name into its model chunk and the state-dict name inside it (chunk 0 and
    /// the name itself without a virtual pipeline, or when the name has no valid chunk prefix).
    public static func splitChunk(_ name: String, vpp: Int) -> (chunk: Int, name: String) {
        guard vpp > 1, name.hasPrefix("model"), let dot = name.firstIndex(of: "."),
            let c = Int(name[name.index(name.startIndex, offsetBy: 5)..<dot]), c >= 0, c < vpp
        else { return (0, name) }
        return (c, String(name[name.index(after: dot)...]))
    }

    /// Whether a state-dict key is a module's `_extra_state` (not a tensor of the model).
    public static func isExtraState(_ key: String) -> Bool {
        key == "_extra_state" || key.hasSuffix("._extra_state")
    }

    /// The local-spec name of a state-dict key written with either naming.
    public static func localName(_ key: String) -> String {
        guard key.hasPrefix("decoder.layers.") else { return key }
        for (l, t) in fused where key.hasSuffix("." + t) {
            return String(key.dropLast(t.count)) + l
        }
        return key
    }

    /// The state-dict key of local-spec name `name` under this naming.
    public func key(_ name: String) -> String {
        guard self == .transformerEngine, name.hasPrefix("decoder.layers.") else { return name }
        for (l, t) in Self.fused where name.hasSuffix("." + l) {
            return String(name.dropLast(l.count)) + t
        }
        return name
    }

    /// The `_extra_state` keys megatron-core's modules of layer prefix `layer`
    /// (`decoder.layers.3.`) add under this naming, in registration order: its parallel linear
    /// layers (whose extra state is `None` in the local spec), and with Transformer Engine the
    /// attention kernel too.
    public func extraStateKeys(layer: String) -> [String] {
        let local = [
            "self_attention.linear_proj._extra_state", "self_attention.linear_qkv._extra_state", "mlp.linear_fc1._extra_state",
            "mlp.linear_fc2._extra_state",
        ]
        return (self == .transformerEngine ? ["self_attention.core_attention._extra_state"] + local : local).map { layer + $0 }
    }

    /// The `_extra_state` key of the last stage's output layer (a local `ColumnParallelLinear`
    /// under both namings, present even when its weight is tied away).
    public static let outputExtraState = "output_layer._extra_state"

    /// Sort key giving megatron-core GPTModel's module-registration order (the order of
    /// `state_dict()` and `named_parameters()`) of state-dict keys under this naming,
    /// `_extra_state` entries included: the embeddings, then each layer (attention output
    /// projection before QKV, as `Attention.__init__` registers `linear_proj` before
    /// `SelfAttention` adds `linear_qkv`), the final norm, the output layer. Unknown keys sort
    /// last, by name.
    public func registrationOrder(_ key: String) -> (Int, Int, Int, String) {
        let top = ["embedding.word_embeddings.weight", "embedding.position_embeddings.weight"]
        if let i = top.firstIndex(of: key) { return (i, 0, 0, "") }
        let tail = [
            "decoder.final_layernorm.weight", "decoder.final_layernorm.bias", "output_layer.weight", "output_layer.bias",
            Self.outputExtraState,
        ]
        if let i = tail.firstIndex(of: key) { return (4 + i, 0, 0, "") }
        let prefix = "decoder.layers."
        if key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            if let dot = rest.firstIndex(of: "."), let j = Int(rest[..<dot]) {
                let sub = String(rest[rest.index(after: dot)...])
                let order = self == .local ? Self.localLayerOrder : Self.teLayerOrder
                if let k = order.firstIndex(of: sub) { return (2, j, k, "") }
                return (2, j, order.count, sub)
            }
        }
        return (9, 0, 0, key)
    }

    private static let localLayerOrder = [
        "input_layernorm.weight", "input_layernorm.bias", "self_attention.linear_proj.weight", "self_attention.linear_proj.bias",
        "self_attention.linear_proj._extra_state", "self_attention.linear_qkv.weight", "self_attention.linear_qkv.bias",
        "self_attention.linear_qkv._extra_state", "pre_mlp_layernorm.weight", "pre_mlp_layernorm.bias", "mlp.linear_fc1.weight",
        "mlp.linear_fc1.bias", "mlp.linear_fc1._extra_state", "mlp.linear_fc2.weight", "mlp.linear_fc2.bias", "mlp.linear_fc2._extra_state",
    ]

    private static let teLayerOrder = [
        "self_attention.core_attention._extra_state", "self_attention.linear_proj.weight", "self_attention.linear_proj.bias",
        "self_attention.linear_proj._extra_state", "self_attention.linear_qkv.layer_norm_weight",
        "self_attention.linear_qkv.layer_norm_bias", "self_attention.linear_qkv.weight", "self_attention.linear_qkv.bias",
        "self_attention.linear_qkv._extra_state", "mlp.linear_fc1.layer_norm_weight", "mlp.linear_fc1.layer_norm_bias",
        "mlp.linear_fc1.weight", "mlp.linear_fc1.bias", "mlp.linear_fc1._extra_state", "mlp.linear_fc2.weight", "mlp.linear_fc2.bias",
        "mlp.linear_fc2._extra_state",
    ]
}
