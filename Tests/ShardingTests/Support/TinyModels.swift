import CheckpointStore

/// Tiny model configurations shared by the tests.
enum TinyModels {
    /// GPT-2 style, multi-head attention: C=16, 8 heads of 2, F=32, V=37 (padding needed).
    static let gpt2 = ModelConfig(family: "gpt2", layers: 4, hidden: 16, heads: 8, ffn: 32, vocab: 37, maxSeq: 8)
    /// GPT-2 style with an untied head.
    static let gpt2Untied = ModelConfig(
        family: "gpt2", layers: 4, hidden: 16, heads: 8, ffn: 32, vocab: 37, maxSeq: 8,
        tieEmbeddings: false)
    /// LLaMA style, grouped-query attention: 16 heads of dimension 2 in 8 KV groups, SwiGLU F=48.
    static let llama = ModelConfig(family: "llama", layers: 4, hidden: 32, heads: 16, kvHeads: 8, ffn: 48, vocab: 37, maxSeq: 8)
    /// LLaMA shape with biases on every linear layer (SwiGLU, so `mlp.gate.bias` too).
    static let llamaBias = ModelConfig(
        family: "llama", layers: 4, hidden: 32, heads: 16, kvHeads: 8, ffn: 48, vocab: 37, maxSeq: 8, bias: true)
    /// LLaMA shape with LayerNorm and biases: every bias rule of the llama family applies.
    static let llamaLayerNormBias = ModelConfig(
        family: "llama", layers: 4, hidden: 32, heads: 16, kvHeads: 8, ffn: 48, vocab: 37, maxSeq: 8, norm: "layernorm", bias: true)
    /// GPT-NeoX style: parallel residual, rotary on a quarter of each head (4 of 16), exact
    /// GeLU, biases, untied head (not in `all`: no Megatron or Cerebras table holds it).
    static let neox = ModelConfig(family: "neox", layers: 2, hidden: 64, heads: 4, ffn: 96, vocab: 37, maxSeq: 8)
    /// All tiny families.
    static let all = [gpt2, gpt2Untied, llama, llamaBias, llamaLayerNormBias]
}
