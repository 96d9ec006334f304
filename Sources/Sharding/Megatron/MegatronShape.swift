import CheckpointStore

/// The parallel shape of a Megatron-style checkpoint: tensor-parallel size, pipeline-parallel
/// size and the vocabulary padding divisor.
public struct MegatronShape: Sendable, Hashable, Codable {
    /// Tensor-parallel size (ranks that split each layer).
    public var tp: Int
    /// Pipeline-parallel size (stages that split the layers).
    public var pp: Int
    /// `make_vocab_size_divisible_by`: the vocabulary is padded to a multiple of this times `tp`.
    public var vocabDivisibleBy: Int

    /// Creates a shape; `vocabDivisibleBy` defaults to Megatron's 128.
    public init(tp: Int, pp: Int, vocabDivisibleBy: Int = 128) {
        self.tp = tp
        self.pp = pp
        self.vocabDivisibleBy = vocabDivisibleBy
    }

    /// The padded vocabulary size: `vocab` rounded up to a multiple of `vocabDivisibleBy * tp`.
    public func paddedVocab(_ vocab: Int) -> Int {
        let multiple = vocabDivisibleBy * tp
        return (vocab + multiple - 1) / multiple * multiple
    }

    /// Checks that this shape can shard `config`: positive sizes, TP dividing heads, KV groups,
    /// FFN width and hidden size, PP dividing layers.
    public func validate(_ config: ModelConfig) throws(ShardingError) {
        if let problem = config.validationProblem() { throw .invalidModelConfig(problem) }
        if tp < 1 { throw .invalidParallelism("tensor-parallel size must be at least 1 (got \(tp))") }
        if pp < 1 { throw .invalidParallelism("pipeline-parallel size must be at least 1 (got \(pp))") }
        if vocabDivisibleBy < 1 {
            throw .invalidParallelism("vocab divisor must be at least 1 (got \(vocabDivisibleBy))")
        }
        for (what, value) in [
            ("attention heads", config.heads), ("KV groups (kv_heads)", config.kvHeads),
            ("FFN width", config.ffn), ("hidden size", config.hidden),
        ] where value % tp != 0 {
            throw .tensorParallelDoesNotDivide(what: what, value: value, tp: tp)
        }
        if config.layers % pp != 0 { throw .pipelineParallelDoesNotDivideLayers(layers: config.layers, pp: pp) }
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
