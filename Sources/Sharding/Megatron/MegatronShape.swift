import CheckpointStore

/// The parallel shape of a Megatron-style checkpoint: tensor-parallel size, pipeline-parallel
/// size, virtual pipeline size and the vocabulary padding divisor.
///
/// With a virtual pipeline (`vpp` > 1, Megatron-LM's interleaved schedule) every pipeline stage
/// holds `vpp` model chunks of n = L / (PP x VPP) layers each: global layer i lies in chunk
/// k = i / n, on stage k % PP as its model chunk k / PP, as local layer i % n (megatron-core's
/// `get_transformer_layer_offset`: chunk c of stage s starts at c x L/VPP + s x n). The
/// embedding is in chunk 0 of stage 0, the final norm and output layer in chunk VPP-1 of the
/// last stage (`pre_process` / `post_process` of `get_model`). Rank files stay one per
/// (TP, PP) rank.
public struct MegatronShape: Sendable, Hashable, Codable {
    /// Tensor-parallel size (ranks that split each layer).
    public var tp: Int
    /// Pipeline-parallel size (stages that split the layers).
    public var pp: Int
    /// Virtual pipeline size: model chunks per pipeline stage (1: no virtual pipeline).
    public var vpp: Int
    /// `make_vocab_size_divisible_by`: the vocabulary is padded to a multiple of this times `tp`.
    public var vocabDivisibleBy: Int

    /// Creates a shape; `vpp` defaults to 1 (no virtual pipeline), `vocabDivisibleBy` to
    /// Megatron's 128.
    public init(tp: Int, pp: Int, vpp: Int = 1, vocabDivisibleBy: Int = 128) {
        self.tp = tp
        self.pp = pp
        self.vpp = vpp
        self.vocabDivisibleBy = vocabDivisibleBy
    }

    enum CodingKeys: String, CodingKey {
        case tp, pp, vpp, vocabDivisibleBy
    }

    /// Decodes a shape; a missing `vpp` is 1.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tp = try c.decode(Int.self, forKey: .tp)
        pp = try c.decode(Int.self, forKey: .pp)
        vpp = try c.decodeIfPresent(Int.self, forKey: .vpp) ?? 1
        vocabDivisibleBy = try c.decode(Int.self, forKey: .vocabDivisibleBy)
    }

    /// Model chunks of the whole pipeline: PP x VPP (virtual stages).
    public var chunks: Int { pp * vpp }

    /// Where global layer `layer` of a model of `layers` layers lies: its pipeline stage, its
    /// model chunk on that stage and its local index in the chunk (`decoder.layers.<local>`).
    /// The caller has validated the shape (`validate`).
    public func placement(ofLayer layer: Int, layers: Int) -> (stage: Int, chunk: Int, local: Int) {
        let n = layers / chunks
        let k = layer / n
        return (k % pp, k / pp, layer % n)
    }

    /// The padded vocabulary size: `vocab` rounded up to a multiple of `vocabDivisibleBy * tp`.
    public func paddedVocab(_ vocab: Int) -> Int {
        let multiple = vocabDivisibleBy * tp
        return (vocab + multiple - 1) / multiple * multiple
    }

    /// Checks that this shape can shard `config`: positive sizes, TP dividing heads, FFN width
    /// and hidden size, TP and the KV groups dividing one another (megatron-core's rule: with
    /// fewer groups than ranks the fused QKV rows are cut into TP contiguous pieces,
    /// `formats/megatron-layout.md`), PP dividing layers.
    public func validate(_ config: ModelConfig) throws(ShardingError) {
        if let problem = config.validationProblem() { throw .invalidModelConfig(problem) }
        if tp < 1 { throw .invalidParallelism("tensor-parallel size must be at least 1 (got \(tp))") }
        if pp < 1 { throw .invalidParallelism("pipeline-parallel size must be at least 1 (got \(pp))") }
        if vocabDivisibleBy < 1 {
            throw .invalidParallelism("vocab divisor must be at least 1 (got \(vocabDivisibleBy))")
        }
        for (what, value) in [
            ("attention heads", config.heads), ("FFN width", config.ffn), ("hidden size", config.hidden),
        ] where value % tp != 0 {
            throw .tensorParallelDoesNotDivide(what: what, value: value, tp: tp)
        }
        if config.kvHeads % tp != 0 {
            if tp % config.kvHeads != 0 {
                throw .invalidParallelism(
                    "tensor-parallel size \(tp) and the \(config.kvHeads) KV groups (kv_heads) must divide one another (megatron-core: num_query_groups a multiple or a divisor of the TP size)"
                )
            }
            let rows = (config.heads + 2 * config.kvHeads) * config.headDim
            if rows % tp != 0 { throw .tensorParallelDoesNotDivide(what: "fused QKV rows ((heads + 2 x kv_heads) x head_dim)", value: rows, tp: tp) }
        }
        if vpp < 1 { throw .invalidParallelism("virtual pipeline size must be at least 1 (got \(vpp))") }
        if vpp > 1 && pp == 1 {
            throw .invalidParallelism(
                "a virtual pipeline (size \(vpp)) needs pipeline-parallel size > 1: Megatron-LM builds model chunks only with pipeline parallelism")
        }
        if config.layers % pp != 0 { throw .pipelineParallelDoesNotDivideLayers(layers: config.layers, pp: pp) }
        let (chunks, overflow) = pp.multipliedReportingOverflow(by: vpp)
        if overflow || config.layers % chunks != 0 {
            throw .invalidParallelism(
                "pipeline-parallel size \(pp) x virtual pipeline size \(vpp) model chunks do not divide the number of layers (\(config.layers))")
        }
    }

    /// The rank directory name Megatron uses: `mp_rank_{tp:02d}` when PP = 1, otherwise
    /// `mp_rank_{tp:02d}_{pp:03d}`.
    public func rankDirectoryName(_ file: ShardFile) -> String {
        let t = String(file.tpRank).leftPadded(to: 2)
        if pp == 1 { return "mp_rank_\(t)" }
        return "mp_rank_\(t)_\(String(file.ppRank).leftPadded(to: 3))"
    }

    /// Every rank file of this shape, pipeline stage major, tensor rank minor.
    public var files: [ShardFile] {
        (0..<pp).flatMap { s in (0..<tp).map { ShardFile(tpRank: $0, ppRank: s) } }
    }
}

extension String {
    /// The string left-padded with zeros to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
