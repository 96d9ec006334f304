import ArgumentParser

/// `--optimizer`: the optimizer state `synth` adds.
enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable {
    /// PyTorch's AdamW (weight decay applied as lr x wd x theta).
    case adamw
    /// AdamW with fully decoupled weight decay.
    case adamwDecoupled = "adamw-decoupled"
}
