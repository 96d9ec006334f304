import ArgumentParser
import CheckpointStore
import Foundation
import ReferenceCore

/// `ckpt step`: one reference training step on the CPU.
struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Run one reference training step (forward, backward, AdamW) and write the step t+1 checkpoint.",
        discussion: """
            Reads model_config and optimizer from the before-checkpoint, the batch from an HDF5 batch file \
            (formats/batch-v1.md), and writes parameters, Adam state, masters and metadata at step t+1, recording \
            the loss in user_metadata. Exit status: 0 ok, 2 usage or I/O error.
            """)

    @Option(help: "The checkpoint before the step (wafer file or Megatron directory; the output is a wafer file).") var before: String
    @Option(help: "The batch file (/inputs, /targets int32 [B,T]).") var batch: String
    @Option(help: "Where to write the checkpoint after the step.") var out: String
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Replace an existing output file (never --before or --batch).") var force = false

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [before, batch], force: force)
        let t0 = Date()
        var options = try store.writerOptions()
        options.overwrite = force
        let sources = StepSources()
        defer { sources.removeTemporaries() }
        let outcome: Result<ReferenceStep.Result, ReferenceError>
        do throws(ReferenceError) {
            outcome = .success(try ReferenceStep.run(before: try sources.open(before), batchPath: batch, out: out, options: options))
        } catch {
            outcome = .failure(error)
        }
        let result: ReferenceStep.Result
        switch outcome {
        case .success(let r): result = r
        case .failure(let e):
            FileHandle.standardError.write(Data("ckpt: \(e)\n".utf8))
            throw ExitCode(2)
        }
        let secs = Date().timeIntervalSince(t0)
        if json {
            struct Out: Encodable {
                var out: String
                var step: Int64
                var loss: Double
                var gradNorm: Double
                var clipCoefficient: Double
                var seconds: Double
                var loadSeconds: Double
                var computeSeconds: Double
                var updateSeconds: Double
                var optimizerSeconds: Double
                enum CodingKeys: String, CodingKey {
                    case out, step, loss, seconds
                    case gradNorm = "grad_norm", clipCoefficient = "clip_coefficient", loadSeconds = "load_seconds"
                    case computeSeconds = "compute_seconds", updateSeconds = "update_write_seconds"
                    case optimizerSeconds = "optimizer_seconds"
                }
            }
            print(
                Format.json(
                    Out(
                        out: out, step: result.step, loss: result.loss, gradNorm: result.gradNorm,
                        clipCoefficient: result.clipCoefficient, seconds: secs, loadSeconds: result.loadSeconds,
                        computeSeconds: result.computeSeconds, updateSeconds: result.updateSeconds,
                        optimizerSeconds: result.optimizerSeconds)))
        } else {
            print(
                "step \(result.step - 1) -> \(result.step): loss \(result.loss), grad norm \(result.gradNorm), clip \(result.clipCoefficient); wrote \(out) in "
                    + String(
                        format: "%.2fs (load %.2fs, forward+backward %.2fs, update+write %.2fs)", secs, result.loadSeconds,
                        result.computeSeconds, result.updateSeconds))
        }
    }
}
