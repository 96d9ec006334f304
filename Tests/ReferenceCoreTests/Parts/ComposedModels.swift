import CheckpointStore

@testable import ReferenceCore

/// Tiny configurations with every switch given explicitly, for the tests of the composed parts.
enum ComposedModels {
    /// One explicit configuration (hidden 8, 2 heads of 4, ffn 12, vocab 11, max_seq 6).
    static func config(
        norm: String = "layernorm", position: String = "learned", rotaryPct: Double = 1, activation: String = "gelu_tanh",
        residual: String = "sequential", bias: Bool = true, tied: Bool = false, kvHeads: Int = 2, layers: Int = 2,
        normEps: Double = 1e-5, ropeTheta: Double = 10000, family: String = "gpt2"
    ) -> ModelConfig {
        ModelConfig(
            family: family, layers: layers, hidden: 8, heads: 2, kvHeads: kvHeads, ffn: 12, vocab: 11, maxSeq: 6, normEps: normEps,
            activation: activation, tieEmbeddings: tied, norm: norm, position: position, ropeTheta: ropeTheta, bias: bias,
            residual: residual, rotaryPct: rotaryPct)
    }

    /// LLaMA-style: RMSNorm, full rotary, GQA (1 KV head for 2 query heads), SwiGLU, no biases, untied.
    static let llama = config(norm: "rmsnorm", position: "rope", activation: "swiglu", bias: false, kvHeads: 1, family: "llama")
    /// GPT-NeoX-style: LayerNorm with bias, rotary on half of each head, parallel residual,
    /// exact GELU, biases, untied.
    static let neox = config(position: "rope", rotaryPct: 0.5, activation: "gelu", residual: "parallel", family: "neox")

    /// A named case for parameterised tests.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var config: ModelConfig
        var description: String { name }
    }

    /// The composed variants the whole-model checks run on: the two families and mixtures
    /// that put each switch next to the others.
    static let cases: [Case] = [
        Case(name: "llama", config: llama),
        Case(name: "neox", config: neox),
        Case(name: "rmsnorm+learned+gelu+parallel+tied", config: config(norm: "rmsnorm", activation: "gelu", residual: "parallel", tied: true)),
        Case(name: "layernorm-no-bias+rope+swiglu+gqa", config: config(position: "rope", activation: "swiglu", bias: false, kvHeads: 1)),
        Case(name: "llama with biases, theta 500", config: config(norm: "rmsnorm", position: "rope", activation: "swiglu", bias: true, ropeTheta: 500)),
    ]
}
