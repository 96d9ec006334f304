extension ModelConfig {
    /// Named shapes for `ckpt synth --preset`, per family. GPT-2 sizes follow GPT-2/GPT-3
    /// (the 1.3b preset is GPT-3 XL); llama sizes follow LLaMA-1/2 shapes, neox sizes Pythia's. Documented in
    /// `formats/tensor-names.md`.
    public static func preset(family: String, name: String) -> ModelConfig? {
        switch (family, name.lowercased()) {
        case ("gpt2", "tiny"): return gpt(layers: 2, hidden: 64, heads: 4, vocab: 96, maxSeq: 32)
        case ("gpt2", "124m"): return gpt(layers: 12, hidden: 768, heads: 12, maxSeq: 1024)
        case ("gpt2", "350m"): return gpt(layers: 24, hidden: 1024, heads: 16, maxSeq: 1024)
        case ("gpt2", "760m"): return gpt(layers: 24, hidden: 1536, heads: 16, maxSeq: 1024)
        case ("gpt2", "1.3b"): return gpt(layers: 24, hidden: 2048, heads: 16, maxSeq: 2048)
        case ("gpt2", "2.7b"): return gpt(layers: 32, hidden: 2560, heads: 32, maxSeq: 2048)
        case ("gpt2", "6.7b"): return gpt(layers: 32, hidden: 4096, heads: 32, maxSeq: 2048)
        case ("gpt2", "13b"): return gpt(layers: 40, hidden: 5120, heads: 40, maxSeq: 2048)
        case ("gpt2", "20b"): return gpt(layers: 44, hidden: 6144, heads: 64, maxSeq: 2048)
        case ("llama", "tiny"):
            return ModelConfig(
                family: "llama", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 160,
                vocab: 96, maxSeq: 32, normEps: 1e-5)
        case ("llama", "1b"):
            return ModelConfig(
                family: "llama", layers: 16, hidden: 2048, heads: 32, kvHeads: 8, ffn: 5632,
                vocab: 32000, maxSeq: 2048, normEps: 1e-5)
        case ("llama", "7b"):
            return ModelConfig(
                family: "llama", layers: 32, hidden: 4096, heads: 32, kvHeads: 32, ffn: 11008,
                vocab: 32000, maxSeq: 4096, normEps: 1e-5)
        case ("llama", "13b"):
            return ModelConfig(
                family: "llama", layers: 40, hidden: 5120, heads: 40, kvHeads: 40, ffn: 13824,
                vocab: 32000, maxSeq: 4096, normEps: 1e-5)
        case ("neox", "tiny"):
            return ModelConfig(family: "neox", layers: 2, hidden: 64, heads: 4, ffn: 256, vocab: 96, maxSeq: 32)
        case ("neox", "160m"):
            return ModelConfig(family: "neox", layers: 12, hidden: 768, heads: 12, ffn: 3072, vocab: 50304, maxSeq: 2048)
        case ("neox", "410m"):
            return ModelConfig(family: "neox", layers: 24, hidden: 1024, heads: 16, ffn: 4096, vocab: 50304, maxSeq: 2048)
        case ("neox", "1b"):
            return ModelConfig(family: "neox", layers: 16, hidden: 2048, heads: 8, ffn: 8192, vocab: 50304, maxSeq: 2048)
        default: return nil
        }
    }

    /// Preset names available for a family, smallest first.
    public static func presetNames(family: String) -> [String] {
        switch family {
        case "gpt2": return ["tiny", "124m", "350m", "760m", "1.3b", "2.7b", "6.7b", "13b", "20b"]
        case "llama": return ["tiny", "1b", "7b", "13b"]
        case "neox": return ["tiny", "160m", "410m", "1b"]
        default: return []
        }
    }

    private static func gpt(layers: Int, hidden: Int, heads: Int, vocab: Int = 50257, maxSeq: Int) -> ModelConfig {
        ModelConfig(family: "gpt2", layers: layers, hidden: hidden, heads: heads, vocab: vocab, maxSeq: maxSeq)
    }
}
