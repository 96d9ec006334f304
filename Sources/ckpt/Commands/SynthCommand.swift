import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt synth`: a deterministic random-initialised checkpoint of a GPT-2/GPT-3, LLaMA or
/// GPT-NeoX (Pythia) shape.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a deterministic random-initialised checkpoint (the built-in example).",
        discussion: """
            Presets: gpt2 \(ModelFamily.gpt2.presetNames.joined(separator: ", ")) (default 124m); \
            llama \(ModelFamily.llama.presetNames.joined(separator: ", ")) (default 1b); \
            neox \(ModelFamily.neox.presetNames.joined(separator: ", ")) (default 160m, Pythia shapes). Overrides \
            change the preset's shape: --hidden alone keeps the preset's head size (heads = hidden / head size, \
            at least 1) and derives the MLP width (4 x hidden for gpt2 and neox, 8/3 x hidden rounded up to 256 \
            for llama).
            Without --optimizer the file holds parameters only.

            Example:
              ckpt synth --preset tiny --optimizer adamw --dtype bf16 --out tiny.h5
              ckpt synth --family llama --layers 2 --hidden 64 --vocab 96 --out small-llama.h5
              ckpt synth --family neox --preset tiny --out tiny-neox.h5
            """)

    @Option(help: "Model family.") var family: ModelFamily = .gpt2
    @Option(help: "Named shape of the family (default: 124m for gpt2, 1b for llama, 160m for neox).") var preset: String?
    @Option(parsing: .unconditional, help: "Override: transformer blocks.") var layers: Int?
    @Option(parsing: .unconditional, help: "Override: hidden size.") var hidden: Int?
    @Option(parsing: .unconditional, help: "Override: attention heads.") var heads: Int?
    @Option(name: .customLong("kv-heads"), parsing: .unconditional, help: "Override: key/value heads (GQA).") var kvHeads: Int?
    @Option(parsing: .unconditional, help: "Override: MLP width.") var ffn: Int?
    @Option(parsing: .unconditional, help: "Override: vocabulary size.") var vocab: Int?
    @Option(name: .customLong("max-seq"), parsing: .unconditional, help: "Override: maximum sequence length.") var maxSeq: Int?
    @Option(help: "Parameter dtype.") var dtype: DTypeChoice = .fp32
    @Option(help: "Add optimizer state (exp_avg, exp_avg_sq, fp32 masters for bf16/fp16) for this optimizer (default: none, parameters only).")
    var optimizer: OptimizerChoice?
    @Option(parsing: .unconditional, help: "Step recorded in the checkpoint, 0 or more (default 0, or 100 with optimizer state).") var step: Int64?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @OptionGroup var store: StoreOptions
    @Option(help: "Output checkpoint file (required).") var out: String
    @Flag(help: "Replace an existing output file (atomically, once the new one is complete).") var force = false
    @Flag(help: "Print a JSON summary.") var json = false

    /// The preset name used.
    var presetName: String { preset ?? family.defaultPreset }

    func validate() throws {
        guard ModelConfig.preset(family: family.rawValue, name: presetName) != nil else {
            throw ValidationError("unknown preset '\(presetName)' for \(family.rawValue) (have: \(family.presetNames.joined(separator: ", ")))")
        }
        try FlagBounds.check("layers", layers, FlagBounds.layers)
        try FlagBounds.check("hidden", hidden, FlagBounds.hidden)
        try FlagBounds.check("heads", heads, 1...(hidden ?? FlagBounds.hidden.upperBound))
        try FlagBounds.check("kv-heads", kvHeads, 1...(heads ?? FlagBounds.hidden.upperBound))
        try FlagBounds.check("ffn", ffn, FlagBounds.ffn)
        try FlagBounds.check("vocab", vocab, FlagBounds.vocab)
        try FlagBounds.check("max-seq", maxSeq, FlagBounds.maxSeq)
        try FlagBounds.check("step", step, 0...Int64.max)
        let c = config()
        if let p = c.validationProblem() { throw ValidationError(p) }
        let parameters = Self.parameterCount(c)
        guard let parameters, FlagBounds.parameters.contains(parameters) else {
            throw ValidationError(
                "the model would have \(parameters.map(String.init) ?? "more than 2^63") parameters; at most \(FlagBounds.parameters.upperBound) are supported")
        }
    }

    /// The parameter count of `c`, or nil when it overflows 64 bits.
    static func parameterCount(_ c: ModelConfig) -> Int? {
        // Bounded flags keep each product far from overflow; the sum is checked anyway.
        var total = 0
        for t in c.canonicalTensors() {
            var n = 1
            for d in t.shape {
                let (m, o) = n.multipliedReportingOverflow(by: d)
                if o { return nil }
                n = m
            }
            let (s, o) = total.addingReportingOverflow(n)
            if o { return nil }
            total = s
        }
        return total
    }

    /// The preset with the overrides applied.
    func config() -> ModelConfig {
        guard let base = ModelConfig.preset(family: family.rawValue, name: presetName) else { preconditionFailure("validated preset") }
        var c = base
        if let v = layers { c.layers = v }
        if let v = hidden {
            c.hidden = v
            if heads == nil {
                let headSize = max(1, base.hidden / base.heads)
                c.heads = max(1, v / headSize)
                c.kvHeads = max(1, c.heads / max(1, base.heads / base.kvHeads))
            }
            if ffn == nil { c.ffn = family == .llama ? (8 * v / 3 + 255) / 256 * 256 : 4 * v }
        }
        if let v = heads {
            c.heads = v
            if kvHeads == nil { c.kvHeads = family == .llama ? max(1, v / max(1, base.heads / base.kvHeads)) : v }
        }
        if let v = kvHeads { c.kvHeads = v }
        if let v = ffn { c.ffn = v }
        if let v = vocab { c.vocab = v }
        if let v = maxSeq { c.maxSeq = v }
        return c
    }

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [], force: force)
        var options = try store.writerOptions()
        options.overwrite = force
        var synth = SyntheticCheckpoint(
            config: config(), dtype: dtype.dtype, withOptimizer: optimizer != nil,
            step: step ?? (optimizer != nil ? 100 : 0), seed: seed)
        if optimizer == .adamwDecoupled { synth.optimizer.variant = "decoupled" }
        let total = synth.totalBytes
        try OutputGuard.checkSpace(out, rawBytes: Int64(total), tensors: synth.items().count, chunkBytes: options.chunkBytes)
        let progress = Progress(total: total, label: "synth", enabled: Progress.shown(json: json))
        let t0 = Date()
        try synth.write(to: out, options: options) { progress.update($0) }
        progress.finish()
        let secs = Date().timeIntervalSince(t0)
        let r = try CheckpointReader(path: out)
        let stored = r.tensors.reduce(0) { $0 + $1.storedBytes }
        if json {
            print(
                JSONDocument.text(
                    SynthSummary(
                        output: out, parameters: synth.config.parameterCount, tensors: r.tensors.count,
                        rawBytes: total, storedBytes: stored, seconds: secs)))
        } else {
            print(
                "wrote \(out): \(Format.count(synth.config.parameterCount)) parameters, \(r.tensors.count) tensors, "
                    + "\(Format.bytes(total)) raw, \(Format.bytes(stored)) stored, "
                    + String(format: "%.1fs (%.0f MB/s)", secs, Double(total) / secs / 1e6))
        }
    }
}

/// JSON summary of `ckpt synth`.
struct SynthSummary: Encodable {
    var output: String
    var parameters: Int
    var tensors: Int
    var rawBytes: Int
    var storedBytes: Int
    var seconds: Double
    enum CodingKeys: String, CodingKey {
        case output, parameters, tensors, seconds
        case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
    }
}
