import ArgumentParser
import CheckpointStore

/// `--family`: the model families ckpt synthesises.
enum ModelFamily: String, ExpressibleByArgument, CaseIterable {
    case gpt2, llama
    /// GPT-NeoX / Pythia (parallel residual, rotary on a quarter of each head).
    case neox

    /// The preset used when `--preset` is absent.
    var defaultPreset: String {
        switch self {
        case .gpt2: return "124m"
        case .llama: return "1b"
        case .neox: return "160m"
        }
    }

    /// The family's preset names, smallest first.
    var presetNames: [String] { ModelConfig.presetNames(family: rawValue) }
}
