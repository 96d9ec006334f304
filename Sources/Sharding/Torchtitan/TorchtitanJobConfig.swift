import CheckpointStore
import Containers

/// The model a torchtitan checkpoint holds, read from the job config torchtitan writes
/// (`--debug.save_config_file job_config.json`: `Trainer.Config.to_dict()`, or the same from
/// `python -c "from torchtitan.models.llama3.config_registry import llama3_8b; import json;
/// print(json.dumps(llama3_8b().to_dict()))"`). A DCP checkpoint records no architecture: the
/// number of heads, the rope theta and the norm epsilon are not in its tensors.
///
/// Strict like `HFConfig`: `model_spec.name` must be `llama3` (whose `ComplexRoPE` pairs
/// consecutive dimensions, the `rope: interleaved` of the layout table); every layer must have
/// the same shape; anything ckpt's model would compute differently is an error naming the
/// member: rope scaling other than `none` and `llama` (which maps to `ModelConfig.ropeScaling`
/// type `llama3` with `scaling_factor`, `low_freq_factor`, `high_freq_factor` and
/// `original_max_position_embeddings`), a head_dim other than dim / n_heads, biases, QK
/// norms, MoE layers, norms without weights or with different epsilons. Members that change
/// neither tensors nor math (param_init, sharding_config, inner_attention, ...) are not read.
public struct TorchtitanJobConfig: Sendable, Equatable {
    /// The model.
    public var model: ModelConfig
    /// `model_spec.flavor` (`8B`, `debugmodel`, ...), when recorded.
    public var flavor: String?
    /// `training.max_norm` (gradient clipping), when recorded.
    public var maxNorm: Double?
    /// The optimizer names of `optimizer.param_groups` (`AdamW`), when recorded.
    public var optimizerNames: [String]

    /// The largest job config read.
    public static let maxFileBytes = 64 << 20

    /// Reads the job config at `path`.
    public static func read(path: String) throws(ContainerError) -> TorchtitanJobConfig {
        try TorchtitanJobConfig(json: SmallFile.read(path, maxBytes: maxFileBytes), path: path)
    }

    /// Maps the text of a job config (`path` names it in messages).
    public init(json bytes: [UInt8], path: String) throws(ContainerError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .malformed(path: path, detail: "not valid JSON: \(error)") }
        let root = TorchtitanConfigNode(value: value, location: "", path: path)
        let spec = try root.member("model_spec", neededFor: "the model's architecture (torchtitan's Trainer.Config.to_dict())")
        let name = try spec.member("name", neededFor: "the model family").string()
        guard name == "llama3" else {
            throw .unsupported(path: path, detail: "model_spec.name \(JSONText.quoted(name)): ckpt maps torchtitan's llama3 models")
        }
        flavor = try spec.optionalMember("flavor")?.string()
        model = try Self.llama3(try spec.member("model", neededFor: "the model's architecture"))
        maxNorm = try root.optionalMember("training")?.optionalMember("max_norm")?.number()
        var names: [String] = []
        if let groups = try root.optionalMember("optimizer")?.optionalMember("param_groups") {
            for g in try groups.elements() {
                if let n = try g.optionalMember("optimizer_name")?.string() { names.append(n) }
            }
        }
        optimizerNames = names
    }

    /// One transformer block's shape and math, as read.
    private struct Block: Equatable, CustomStringConvertible {
        var heads: Int, kvHeads: Int, ffn: Int, theta: Double, maxSeq: Int, eps: [Double], scaling: RopeScaling?

        var description: String {
            "n_heads \(heads), n_kv_heads \(kvHeads), ffn \(ffn), rope theta \(theta), max_seq_len \(maxSeq), eps \(eps)"
                + (scaling.map { ", rope scaling \($0.summary)" } ?? "")
        }
    }

    private static func llama3(_ m: TorchtitanConfigNode) throws(ContainerError) -> ModelConfig {
        let dim = try m.member("dim", neededFor: "the hidden size").positiveInt()
        let vocab = try m.member("vocab_size", neededFor: "the vocabulary").positiveInt()
        let tied = try m.member("enable_weight_tying", neededFor: "whether the head is the embedding").bool()
        let finalEps = try norm(try m.member("norm", neededFor: "the final norm"), dim: dim)
        try noBias(try m.member("lm_head", neededFor: "the output head"))
        let layers = try m.member("layers", neededFor: "the transformer blocks").elements()
        guard let first = layers.first else { throw try m.member("layers", neededFor: "").bad("no transformer blocks") }
        var blocks: [Block] = []
        for l in layers {
            let b = try block(l, dim: dim)
            if let b0 = blocks.first, b != b0 {
                throw l.bad("differs from layers[0] (\(b) vs \(b0)); ckpt's models have identical blocks")
            }
            blocks.append(b)
        }
        let b = blocks[0]
        let eps = Set(b.eps + [finalEps])
        guard eps.count == 1, let normEps = eps.first else {
            throw first.bad("norm epsilons \(b.eps + [finalEps]) differ (attention_norm, ffn_norm, norm); ckpt's model has one norm_eps")
        }
        let config = ModelConfig(
            family: "llama", layers: layers.count, hidden: dim, heads: b.heads, kvHeads: b.kvHeads, ffn: b.ffn, vocab: vocab,
            maxSeq: b.maxSeq, normEps: normEps, tieEmbeddings: tied, ropeTheta: b.theta, bias: false, ropeScaling: b.scaling)
        if let p = config.validationProblem() { throw .malformed(path: m.path, detail: "model_spec.model: \(p)") }
        return config
    }

    private static func block(_ l: TorchtitanConfigNode, dim: Int) throws(ContainerError) -> Block {
        if try l.optionalMember("moe") != nil { throw try l.member("moe", neededFor: "").bad("MoE blocks are not a model ckpt has") }
        let a = try l.member("attention", neededFor: "the attention shape")
        let heads = try a.member("n_heads", neededFor: "the number of attention heads").positiveInt()
        let kvHeads = try a.optionalMember("n_kv_heads")?.positiveInt() ?? heads
        guard dim % heads == 0 else { throw try a.member("n_heads", neededFor: "").bad("\(heads) does not divide dim \(dim)") }
        if let hd = try a.optionalMember("head_dim"), try hd.positiveInt() != dim / heads {
            throw hd.bad("\(hd.describe) is not dim / n_heads = \(dim / heads) (ckpt's attention has dim = heads x head_dim)")
        }
        if let d = try a.optionalMember("dim"), try d.positiveInt() != dim { throw d.bad("\(d.describe) is not the model's dim \(dim)") }
        if let q = try a.optionalMember("qk_norm") { throw q.bad("QK norms are not part of ckpt's LLaMA") }
        let qkv = try a.member("qkv_linear", neededFor: "the Q/K/V projections")
        for (key, value) in [("n_heads", heads), ("n_kv_heads", kvHeads), ("head_dim", dim / heads)] {
            if let q = try qkv.optionalMember(key), try q.positiveInt() != value {
                throw q.bad("\(q.describe) contradicts the attention's \(key) \(value)")
            }
        }
        for key in ["wqkv", "wq", "wkv"] { if let lin = try qkv.optionalMember(key) { try noBias(lin) } }
        try noBias(try a.member("wo", neededFor: "the output projection"))
        let rope = try a.member("rope", neededFor: "the rotary embedding")
        let scaling = try ropeScaling(rope)
        let ropeDim = try rope.member("dim", neededFor: "the rotary dimensions").positiveInt()
        guard ropeDim == dim / heads else {
            throw try rope.member("dim", neededFor: "").bad("\(ropeDim) is not the head dimension \(dim / heads) (ckpt rotates whole heads)")
        }
        let theta = try rope.member("theta", neededFor: "the rotary base frequency").number()
        guard theta > 0 else { throw try rope.member("theta", neededFor: "").bad("must be positive") }
        let maxSeq = try rope.member("max_seq_len", neededFor: "the context length").positiveInt()
        let ff = try l.member("feed_forward", neededFor: "the SwiGLU MLP")
        let w1 = try ff.member("w1", neededFor: "the MLP width")
        let ffn = try w1.member("out_features", neededFor: "the MLP width").positiveInt()
        for key in ["w1", "w2", "w3"] { try noBias(try ff.member(key, neededFor: "the SwiGLU MLP")) }
        let eps = [
            try norm(try l.member("attention_norm", neededFor: "the attention norm"), dim: dim),
            try norm(try l.member("ffn_norm", neededFor: "the MLP norm"), dim: dim),
        ]
        return Block(heads: heads, kvHeads: kvHeads, ffn: ffn, theta: theta, maxSeq: maxSeq, eps: eps, scaling: scaling)
    }

    /// The frequency scaling of a `RoPE.Config`: `none` (or absent) is none; `llama` is
    /// ComplexRoPE's Llama 3.1 rule, the `llama3` type of `ModelConfig.ropeScaling`, with its
    /// four parameters (which `to_dict()` always writes); anything else (`yarn`) is refused.
    private static func ropeScaling(_ rope: TorchtitanConfigNode) throws(ContainerError) -> RopeScaling? {
        let kind = try rope.optionalMember("scaling")?.string() ?? "none"
        switch kind {
        case "none": return nil
        case "llama":
            func positive(_ key: String) throws(ContainerError) -> Double {
                let n = try rope.member(key, neededFor: "the llama rope scaling")
                let v = try n.number()
                guard v > 0 else { throw n.bad("must be positive") }
                return v
            }
            let factor = try positive("scaling_factor"), low = try positive("low_freq_factor"), high = try positive("high_freq_factor")
            let original = try rope.member("original_max_position_embeddings", neededFor: "the llama rope scaling").positiveInt()
            let s = RopeScaling.llama3(factor: factor, lowFreqFactor: low, highFreqFactor: high, originalMaxSeq: original)
            if s.validationProblem() != nil {
                throw try rope.member("high_freq_factor", neededFor: "").bad("\(high) must exceed low_freq_factor \(low)")
            }
            return s
        default:
            throw try rope.member("scaling", neededFor: "").bad(
                "\(JSONText.quoted(kind)) frequency scaling is not one ckpt computes (none, and llama as rope_scaling llama3): converting would change the math"
            )
        }
    }

    /// The epsilon of an RMSNorm config (with weights, over `dim`).
    private static func norm(_ n: TorchtitanConfigNode, dim: Int) throws(ContainerError) -> Double {
        if let affine = try n.optionalMember("elementwise_affine"), try !affine.bool() {
            throw affine.bad("a norm without weights is not part of ckpt's LLaMA")
        }
        if let shape = try n.optionalMember("normalized_shape"), try shape.positiveInt() != dim {
            throw shape.bad("\(shape.describe) is not the model's dim \(dim)")
        }
        let eps = try n.member("eps", neededFor: "the norm epsilon").number()
        guard eps > 0 else { throw try n.member("eps", neededFor: "").bad("must be positive") }
        return eps
    }

    /// Refuses a linear layer config with a bias.
    private static func noBias(_ linear: TorchtitanConfigNode) throws(ContainerError) {
        if let b = try linear.optionalMember("bias"), try b.bool() { throw b.bad("biases are not part of torchtitan's llama3 in ckpt") }
    }
}
