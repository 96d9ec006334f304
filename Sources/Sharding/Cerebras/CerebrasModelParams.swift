import CheckpointStore
import Containers

/// The model architecture of a Cerebras Model Zoo checkpoint: the `params` Model Zoo's trainer
/// records in the state dict (`__metadata__[-1].params`, the run's YAML: `trainer.init.model`,
/// or `model` in older configs) read into a `ModelConfig`, and written back for an export.
/// A `.mdl` without them cannot be converted: the number of attention heads is not in the
/// tensors.
enum CerebrasModelParams {
    /// The Model Zoo model names ckpt's tables cover, by family.
    static let modelNames = ["gpt2": "Gpt2Model", "llama": "LlamaModel"]

    /// The model params of `file` (dotted names below `model`, e.g.
    /// `extra_attention_params.num_kv_groups`), and the recorded model name.
    static func read(_ file: CerebrasMDLFile) -> (params: [String: JSONValue], modelName: String?)? {
        var last: Int?
        for l in file.leaves where l.key.hasPrefix("__metadata__.") {
            let parts = l.key.split(separator: ".")
            if parts.count > 1, let n = Int(parts[1]) { last = max(last ?? n, n) }
        }
        guard let n = last else { return nil }
        let base = "__metadata__.\(n)."
        var modelName: String?
        var out: [String: JSONValue] = [:]
        for prefix in [base + "params.trainer.init.model.", base + "params.model."] {
            for l in file.leaves where l.key.hasPrefix(prefix) {
                let name = String(l.key.dropFirst(prefix.count))
                var leaf = l
                if case .linked(let t) = l.kind, let target = file.leaf(t) { leaf = target }
                switch leaf.kind {
                case .scalar(let v): out[name] = v
                case .string(let s): out[name] = .string(s)
                case .none: out[name] = .null
                default: break
                }
            }
            if !out.isEmpty { break }
        }
        var nameLeaf = file.leaf(base + "model_name")
        if case .linked(let t)? = nameLeaf?.kind { nameLeaf = file.leaf(t) }
        if case .string(let s)? = nameLeaf?.kind { modelName = s }
        return out.isEmpty ? nil : (out, modelName)
    }

    /// The `ModelConfig` the params describe; the error names what is missing or outside what
    /// ckpt's layouts hold.
    static func modelConfig(_ p: [String: JSONValue], modelName: String?, path: String) throws(ShardingError) -> ModelConfig {
        func bad(_ d: String) -> ShardingError { .notACheckpoint(path: path, detail: "Model Zoo params: \(d)") }
        func int(_ k: String) throws(ShardingError) -> Int {
            guard let v = p[k]?.intValue, v > 0 else { throw bad("no positive integer \(k)") }
            return v
        }
        func flag(_ k: String, _ d: Bool) throws(ShardingError) -> Bool {
            guard let v = p[k] else { return d }
            guard let b = v.boolValue else { throw bad("\(k) is \(v.kindDescription), not true or false") }
            return b
        }
        func text(_ k: String, _ d: String) throws(ShardingError) -> String {
            guard let v = p[k] else { return d }
            guard let s = v.stringValue else { throw bad("\(k) is \(v.kindDescription), not a string") }
            return s
        }
        let name = (p["name"]?.stringValue ?? modelName ?? "").lowercased()
        let family: String
        switch name {
        case "gpt2", "gpt2model": family = "gpt2"
        case "llama", "llamamodel": family = "llama"
        default: throw bad("model \(name.isEmpty ? "(unnamed)" : name): ckpt's Cerebras layouts cover gpt2 and llama")
        }
        let hidden = try int("hidden_size"), heads = try int("num_heads")
        var kv = heads
        if try text("attention_module", "aiayn_attention") == "multiquery_attention" {
            guard let g = p["extra_attention_params.num_kv_groups"]?.intValue, g > 0 else {
                throw bad("multiquery_attention without extra_attention_params.num_kv_groups")
            }
            kv = g
        }
        let activation: String
        switch try text("nonlinearity", "gelu") {
        case "gelu": activation = "gelu"
        case "gelu_new": activation = "gelu_tanh"
        case "swiglu": activation = "swiglu"
        case let other: throw bad("nonlinearity \(other) (ckpt holds gelu, gelu_new and swiglu)")
        }
        let norm: String
        switch try text("norm_type", "layernorm") {
        case "layernorm": norm = "layernorm"
        case "rmsnorm": norm = "rmsnorm"
        case let other: throw bad("norm_type \(other) (ckpt holds layernorm and rmsnorm)")
        }
        let position: String
        var scaling: RopeScaling?
        switch try text("position_embedding_type", "learned") {
        case "learned":
            position = "learned"
            if let f = p["pos_scaling_factor"], f.doubleValue != 1 {
                throw bad("pos_scaling_factor \(JSONText.compact(f)) with learned positions (Model Zoo scales only rotary and ALiBi positions)")
            }
        case "rotary":
            position = "rope"
            if let r = p["rotary_dim"]?.intValue, r != hidden / heads {
                throw bad("rotary_dim \(r) rotates part of each head (ckpt's rope rotates all \(hidden / heads) dimensions)")
            }
            scaling = try ropeScaling(p, path: path)
        case let other: throw bad("position_embedding_type \(other) (ckpt holds learned and rotary)")
        }
        let biases = [
            try flag("use_projection_bias_in_attention", true), try flag("use_ffn_bias_in_attention", true), try flag("use_ffn_bias", true),
        ]
        guard Set(biases).count == 1 else { throw bad("biases in some linear layers only (use_*_bias differ): not a model ckpt holds") }
        if try flag("use_bias_in_output", false) { throw bad("use_bias_in_output: an output bias is not a tensor ckpt holds") }
        if try flag("embedding_layer_norm", false) { throw bad("embedding_layer_norm: a norm after the embeddings is not a tensor ckpt holds") }
        let eps = p["layer_norm_epsilon"]?.doubleValue ?? 1e-5
        let config = ModelConfig(
            family: family, layers: try int("num_hidden_layers"), hidden: hidden, heads: heads, kvHeads: kv, ffn: try int("filter_size"),
            vocab: try int("vocab_size"), maxSeq: p["max_position_embeddings"]?.intValue ?? 1024, normEps: eps, activation: activation,
            tieEmbeddings: try flag("share_embedding_weights", true), norm: norm, position: position,
            ropeTheta: p["rope_theta"]?.doubleValue ?? 10000, bias: biases[0], ropeScaling: scaling)
        if let problem = config.validationProblem() { throw bad(problem) }
        return config
    }

    /// Model Zoo params for `c` (the `model` section of the YAML), in Model Zoo's naming.
    static func params(_ c: ModelConfig) -> CerebrasStateDict.Node {
        typealias N = CerebrasStateDict.Node
        func v(_ x: JSONValue) -> N { .leaf(.scalar(x)) }
        func s(_ x: String) -> N { .leaf(.string(x)) }
        var m: [(String, N)] = [
            ("name", s(c.family)), ("vocab_size", v(.int(c.vocab))), ("hidden_size", v(.int(c.hidden))),
            ("num_hidden_layers", v(.int(c.layers))), ("num_heads", v(.int(c.heads))), ("filter_size", v(.int(c.ffn))),
            ("max_position_embeddings", v(.int(c.maxSeq))),
        ]
        if c.kvHeads != c.heads {
            m.append(("attention_module", s("multiquery_attention")))
            m.append(("extra_attention_params", .dict([("num_kv_groups", v(.int(c.kvHeads)))])))
        }
        m.append(("nonlinearity", s(c.activation == "gelu_tanh" ? "gelu_new" : c.activation)))
        m.append(("norm_type", s(c.norm)))
        m.append(("position_embedding_type", s(c.position == "rope" ? "rotary" : "learned")))
        if c.position == "rope" {
            m.append(("rotary_dim", v(.int(c.headDim))))
            m.append(("rope_theta", v(JSONValue.double(c.ropeTheta) ?? .int(10000))))
            m += ropeScalingParams(c.ropeScaling)
        }
        m.append(("layer_norm_epsilon", v(JSONValue.double(c.normEps) ?? .int(0))))
        m.append(("share_embedding_weights", v(.bool(c.tieEmbeddings))))
        m.append(("use_bias_in_output", v(.bool(false))))
        for k in ["use_ffn_bias", "use_ffn_bias_in_attention", "use_projection_bias_in_attention"] { m.append((k, v(.bool(c.bias)))) }
        return .dict(m)
    }
}
