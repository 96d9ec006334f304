import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt synth`: a deterministic random-initialised checkpoint of a GPT-2/GPT-3 or LLaMA shape.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a deterministic random-initialised checkpoint (the built-in example).",
        discussion:
            "Presets: gpt2 \(ModelConfig.presetNames(family: "gpt2").joined(separator: ", ")); llama \(ModelConfig.presetNames(family: "llama").joined(separator: ", "))."
    )

    @Option(help: "Model family: gpt2 or llama.") var family: String = "gpt2"
    @Option(help: "Named shape of the family.") var preset: String = "124m"
    @Option(help: "Override: transformer blocks.") var layers: Int?
    @Option(help: "Override: hidden size.") var hidden: Int?
    @Option(help: "Override: attention heads.") var heads: Int?
    @Option(name: .customLong("kv-heads"), help: "Override: key/value heads (GQA).") var kvHeads: Int?
    @Option(help: "Override: MLP width.") var ffn: Int?
    @Option(help: "Override: vocabulary size.") var vocab: Int?
    @Option(name: .customLong("max-seq"), help: "Override: maximum sequence length.") var maxSeq: Int?
    @Option(help: "Parameter dtype: fp32, bf16 or fp16.") var dtype: String = "fp32"
    @Option(help: "Include optimizer state: adamw (PyTorch AdamW) or adamw-decoupled.") var optimizer: String?
    @Option(help: "Step recorded in the checkpoint (default 0, or 100 with optimizer state).") var step: Int64?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @OptionGroup var store: StoreOptions
    @Option(help: "Output checkpoint file.") var out: String
    @Flag(help: "Replace an existing output file (atomically, once the new one is complete).") var force = false
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        guard ["gpt2", "llama"].contains(family) else { throw ValidationError("--family must be gpt2 or llama") }
        guard ModelConfig.preset(family: family, name: preset) != nil else {
            throw ValidationError("unknown preset '\(preset)' for \(family) (have: \(ModelConfig.presetNames(family: family).joined(separator: ", ")))")
        }
        guard let d = try? DType(parsing: dtype), [.float32, .bfloat16, .float16].contains(d) else {
            throw ValidationError("--dtype must be fp32, bf16 or fp16")
        }
        if let o = optimizer, !["adamw", "adamw-decoupled"].contains(o) {
            throw ValidationError("--optimizer must be adamw or adamw-decoupled")
        }
        if let c = try? config(), let p = c.validationProblem() { throw ValidationError(p) }
    }

    func config() throws -> ModelConfig {
        var c = ModelConfig.preset(family: family, name: preset)!
        if let v = layers { c.layers = v }
        if let v = hidden { c.hidden = v }
        if let v = heads {
            c.heads = v
            if kvHeads == nil && c.family == "gpt2" { c.kvHeads = v }
        }
        if let v = kvHeads { c.kvHeads = v }
        if let v = ffn { c.ffn = v } else if hidden != nil && family == "gpt2" { c.ffn = 4 * c.hidden }
        if let v = vocab { c.vocab = v }
        if let v = maxSeq { c.maxSeq = v }
        return c
    }

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [], force: force)
        var options = try store.writerOptions()
        options.overwrite = force
        var synth = SyntheticCheckpoint(
            config: try config(), dtype: try DType(parsing: dtype), withOptimizer: optimizer != nil,
            step: step ?? (optimizer != nil ? 100 : 0), seed: seed)
        if optimizer == "adamw-decoupled" { synth.optimizer.variant = "decoupled" }
        let total = synth.totalBytes
        try OutputGuard.checkSpace(out, rawBytes: Int64(total), tensors: synth.items().count, chunkBytes: options.chunkBytes)
        let progress = Progress(total: total, label: "synth")
        let t0 = Date()
        try synth.write(to: out, options: options) { progress.update($0) }
        progress.finish()
        let secs = Date().timeIntervalSince(t0)
        let r = try CheckpointReader(path: out)
        let stored = r.tensors.reduce(0) { $0 + $1.storedBytes }
        if json {
            print(
                Format.json(
                    SynthSummary(
                        path: out, parameters: synth.config.parameterCount, tensors: r.tensors.count,
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
    var path: String
    var parameters: Int
    var tensors: Int
    var rawBytes: Int
    var storedBytes: Int
    var seconds: Double
    enum CodingKeys: String, CodingKey {
        case path, parameters, tensors, seconds
        case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
    }
}
