import ArgumentParser
import CheckpointStore
import Containers
import Foundation
import ReferenceCore
import Sharding

/// `ckpt verify-step`: certify or reject an accelerator's training step.
struct VerifyStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-step",
        abstract: "Recompute a training step on the CPU and check the after-checkpoint against it, tensor by tensor.",
        discussion: """
            Compares the loss (when recorded), exp_avg, exp_avg_sq and the update of every parameter with the \
            reference step under a tolerance profile (formats/verify-step.md). Exit status: 0 pass, 1 fail \
            (failing tensors are listed worst first with their first failing check; a damaged or incomplete \
            checkpoint or batch is also 1), 2 usage or I/O error. BEFORE and AFTER are checkpoint files or \
            Megatron directories. Progress (load, forward+backward, compare per tensor) is shown on a terminal.

            Example:
              ckpt verify-step --before step100.h5 --after accel-step101.h5 --batch batch.h5 --precision bf16
            """)

    @Option(help: "The checkpoint before the step (required).") var before: String
    @Option(help: "The checkpoint after the step, as the accelerator wrote it (required).") var after: String
    @Option(help: "The batch file of the step (required).") var batch: String
    @Option(help: "Tolerance profile.") var precision: PrecisionChoice = .fp32
    @Option(name: .customLong("loss-rtol"), help: "Override: max relative loss error.") var lossRelative: Double?
    @Option(name: .customLong("state-rtol"), help: "Override: max relative L2 error of exp_avg / exp_avg_sq.") var stateRelativeL2: Double?
    @Option(name: .customLong("update-rtol"), help: "Override: max relative L2 error of the update.") var updateRelativeL2: Double?
    @Option(name: .customLong("scale-tol"), help: "Override: max |update scale - 1|.") var updateScale: Double?
    @Option(name: .customLong("element-bound"), help: "Override: max elementwise error in units of lr times the Adam bound.") var elementBound: Double?
    @Option(name: .customLong("show"), parsing: .unconditional, help: "Tensors listed in the text report, 0 or more.") var show: Int = 10
    @OptionGroup var memoryOptions: MemoryOptions
    @Flag(help: "Print the full report as JSON.") var json = false

    func validate() throws {
        try FlagBounds.check("show", show, 0...Int.max)
        for (flag, v) in [
            ("loss-rtol", lossRelative), ("state-rtol", stateRelativeL2), ("update-rtol", updateRelativeL2),
            ("scale-tol", updateScale), ("element-bound", elementBound),
        ] {
            if let v, !(v >= 0 && v.isFinite) { throw ValidationError("--\(flag) must be a finite non-negative number (got \(v))") }
        }
    }

    /// The profile with the flag overrides applied.
    func tolerances() -> VerifyTolerances {
        var t = precision.tolerances
        if let v = lossRelative { t.lossRelative = v }
        if let v = stateRelativeL2 { t.stateRelativeL2 = v }
        if let v = updateRelativeL2 { t.updateRelativeL2 = v }
        if let v = updateScale { t.updateScale = v }
        if let v = elementBound { t.elementBound = v }
        return t
    }

    func run() throws {
        let sources = StepSources()
        let progress = StepProgressBar(label: "verify-step", enabled: Progress.shown(json: json))
        defer { progress.finish() }
        let outcome: Result<StepVerificationReport, ReferenceError>
        do throws(ReferenceError) {
            let a = try sources.open(before), b = try sources.open(after)
            outcome = .success(
                try StepVerifier(tolerances: tolerances()).verify(
                    before: a, after: b, batchPath: batch, memory: memoryOptions.memory, progress: progress.callback))
        } catch {
            outcome = .failure(error)
        }
        var report: StepVerificationReport
        switch outcome {
        case .success(let r): report = r
        case .failure(let e):
            progress.finish()
            // Damaged data in either checkpoint or the batch is 1, anything else usage or I/O
            // (ExitPolicy); Main prints the message, or the JSON error document with --json.
            throw sources.failure(for: e)
        }
        progress.finish()
        // Replicated tensors of a Megatron after-checkpoint that differ across TP ranks (a stale
        // or corrupted rank) fail the step even where rank 0, which the assembly keeps, is right.
        report.before = before
        report.after = after
        let byFile = Dictionary(grouping: sources.divergentReplicas[after] ?? [], by: \.file)
        for (file, list) in byFile.sorted(by: { $0.key < $1.key }) {
            let worst = list.map(\.maxAbsDifference).max() ?? 0
            let names = list.map(\.tensor).sorted()
            report.global.append(
                CheckResult(
                    check:
                        "replicas.\(file): \(list.count) replicated tensors differ from rank 0 (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : "")); max |difference|",
                    value: worst, limit: 0, passed: false, severity: .infinity))
            report.passed = false
        }
        let code = report.passed ? ExitPolicy.ok : ExitPolicy.bad
        if json {
            var object = (try? JSONSerialization.jsonObject(with: Data(report.jsonText().utf8))) as? [String: Any] ?? [:]
            object["plan"] = report.plan.flatMap { p in (try? JSONEncoder().encode(PlanJSON(p))).flatMap { try? JSONSerialization.jsonObject(with: $0) } }
            object["peak_rss_bytes"] = peakRSS()
            print(JSONDocument.text(object: object, exitCode: code))
        } else {
            print(report.summary(limit: show))
            if let plan = report.plan { print(PlanJSON(plan).summary + String(format: "; peak RSS %.2f GiB", Double(peakRSS()) / Double(1 << 30))) }
        }
        if !report.passed { throw ExitCode(code) }
    }
}

/// Opens checkpoints for `step` and `verify-step` as tensor sources: a wafer file directly;
/// any other checkpoint (a Megatron directory of ckpt or Megatron-LM rank files, a Hugging Face
/// directory) through `CanonicalView`, which assembles each canonical tensor from the source's
/// files as it is read — nothing is written — after comparing replicated tensors across ranks
/// (differences are reported, not fatal).
final class StepSources {
    /// Divergent replicas found per opened path.
    private(set) var divergentReplicas: [String: [DivergentReplica]] = [:]
    /// The error of the last checkpoint that failed to open through `CanonicalView`.
    private(set) var lastConversionError: ShardingError?

    /// Opens `path` (file or directory).
    func open(_ path: String) throws(ReferenceError) -> any TensorSource {
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if !exists || (!isDir.boolValue && (try? FileKind.sniff(path)) == .hdf5) {
            return try CheckpointFileSource(path: path)
        }
        do throws(ShardingError) {
            let source = try CheckpointSource(path: path, formats: KnownFormats.registry())
            let view = try CanonicalView(source: source)
            divergentReplicas[path] = try view.divergentReplicas()
            return ContainerTensorSource(container: view, metadata: source.metadata)
        } catch {
            lastConversionError = error
            throw .invalidArgument("\(path): \(error)")
        }
    }

    /// The error to report for `e`: a Megatron directory that failed to open keeps the exit code
    /// of its conversion error.
    func failure(for e: ReferenceError) -> any Error {
        guard case .invalidArgument = e, let s = lastConversionError else { return e }
        return ExitPolicy.code(for: s) == ExitPolicy.bad ? CLIError.checksFailed(e.description) : CLIError.usage(e.description)
    }
}
