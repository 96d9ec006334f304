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
            the loss in user_metadata. Exit status: 0 ok, 1 a checkpoint or the batch is bad (damaged, \
            incomplete, at the largest step), 2 usage or I/O error. Progress (load, forward+backward, \
            update+write per tensor) is shown on a terminal.

            Example:
              ckpt step --before step100.h5 --batch batch.h5 --out step101.h5
            """)

    @Option(help: "The checkpoint before the step (wafer file or Megatron directory; the output is a wafer file) (required).")
    var before: String
    @Option(help: "The batch file (/inputs, /targets int32 [B,T]) (required).") var batch: String
    @Option(help: "Where to write the checkpoint after the step (required).") var out: String
    @OptionGroup var store: StoreOptions
    @OptionGroup var memoryOptions: MemoryOptions
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Replace an existing output file (never --before or --batch).") var force = false

    func run() throws {
        try OutputGuard.check(out, kind: .file, inputs: [before, batch], force: force)
        let t0 = Date()
        var options = try store.writerOptions()
        options.overwrite = force
        let sources = StepSources()
        let progress = StepProgressBar(label: "step", enabled: Progress.shown(json: json))
        defer { progress.finish() }
        let outcome: Result<ReferenceStep.Result, ReferenceError>
        do throws(ReferenceError) {
            let source = try sources.open(before)
            outcome = .success(
                try ReferenceStep.run(
                    before: source, batchPath: batch, out: out, options: options, memory: memoryOptions.memory, progress: progress.callback))
        } catch {
            outcome = .failure(error)
        }
        let result: ReferenceStep.Result
        switch outcome {
        case .success(let r): result = r
        case .failure(let e):
            progress.finish()
            throw sources.failure(for: e)
        }
        let secs = Date().timeIntervalSince(t0)
        if json {
            struct Out: Encodable {
                var before: String
                var batch: String
                var output: String
                var step: Int64
                var loss: Double
                var gradNorm: Double
                var clipCoefficient: Double
                var seconds: Double
                var loadSeconds: Double
                var computeSeconds: Double
                var updateSeconds: Double
                var optimizerSeconds: Double
                var plan: PlanJSON?
                var peakRSSBytes: Int
                enum CodingKeys: String, CodingKey {
                    case before, batch, output, step, loss, seconds
                    case gradNorm = "grad_norm", clipCoefficient = "clip_coefficient", loadSeconds = "load_seconds"
                    case computeSeconds = "compute_seconds", updateSeconds = "update_write_seconds"
                    case optimizerSeconds = "optimizer_seconds", plan, peakRSSBytes = "peak_rss_bytes"
                }
            }
            print(
                JSONDocument.text(
                    Out(
                        before: before, batch: batch, output: out, step: result.step, loss: result.loss, gradNorm: result.gradNorm,
                        clipCoefficient: result.clipCoefficient, seconds: secs, loadSeconds: result.loadSeconds,
                        computeSeconds: result.computeSeconds, updateSeconds: result.updateSeconds,
                        optimizerSeconds: result.optimizerSeconds, plan: result.plan.map(PlanJSON.init), peakRSSBytes: peakRSS())))
        } else {
            print(
                "step \(result.step - 1) -> \(result.step): loss \(result.loss), grad norm \(result.gradNorm), clip \(result.clipCoefficient); wrote \(out) in "
                    + String(
                        format: "%.2fs (load %.2fs, forward+backward %.2fs, update+write %.2fs)", secs, result.loadSeconds,
                        result.computeSeconds, result.updateSeconds) + (result.plan.map { "; " + PlanJSON($0).summary } ?? ""))
        }
    }
}
