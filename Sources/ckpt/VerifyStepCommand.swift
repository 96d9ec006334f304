import ArgumentParser
import CheckpointStore
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
            (failing tensors are listed worst first with their first failing check), 2 usage or I/O error.
            """)

    @Option(help: "The checkpoint before the step.") var before: String
    @Option(help: "The checkpoint after the step, as the accelerator wrote it.") var after: String
    @Option(help: "The batch file of the step.") var batch: String
    @Option(help: "Tolerance profile: fp32 or bf16.") var precision: String = "fp32"
    @Option(name: .customLong("loss-rtol"), help: "Override: max relative loss error.") var lossRelative: Double?
    @Option(name: .customLong("state-rtol"), help: "Override: max relative L2 error of exp_avg / exp_avg_sq.") var stateRelativeL2: Double?
    @Option(name: .customLong("update-rtol"), help: "Override: max relative L2 error of the update.") var updateRelativeL2: Double?
    @Option(name: .customLong("scale-tol"), help: "Override: max |update scale - 1|.") var updateScale: Double?
    @Option(name: .customLong("element-bound"), help: "Override: max elementwise error in units of lr times the Adam bound.") var elementBound: Double?
    @Option(name: .customLong("show"), help: "Tensors listed in the text report.") var show: Int = 10
    @Flag(help: "Print the full report as JSON.") var json = false

    func validate() throws {
        guard VerifyTolerances.profile(precision) != nil else { throw ValidationError("--precision must be fp32 or bf16") }
        for (flag, v) in [
            ("loss-rtol", lossRelative), ("state-rtol", stateRelativeL2), ("update-rtol", updateRelativeL2),
            ("scale-tol", updateScale), ("element-bound", elementBound),
        ] {
            if let v, !(v >= 0) { throw ValidationError("--\(flag) must be a non-negative number") }
        }
    }

    /// The profile with the flag overrides applied.
    func tolerances() -> VerifyTolerances {
        var t = VerifyTolerances.profile(precision)!
        if let v = lossRelative { t.lossRelative = v }
        if let v = stateRelativeL2 { t.stateRelativeL2 = v }
        if let v = updateRelativeL2 { t.updateRelativeL2 = v }
        if let v = updateScale { t.updateScale = v }
        if let v = elementBound { t.elementBound = v }
        return t
    }

    func run() throws {
        let sources = StepSources()
        defer { sources.removeTemporaries() }
        let outcome: Result<StepVerificationReport, ReferenceError>
        do throws(ReferenceError) {
            let a = try sources.open(before), b = try sources.open(after)
            outcome = .success(try StepVerifier(tolerances: tolerances()).verify(before: a, after: b, batchPath: batch))
        } catch {
            outcome = .failure(error)
        }
        var report: StepVerificationReport
        switch outcome {
        case .success(let r): report = r
        case .failure(let e):
            FileHandle.standardError.write(Data("ckpt: \(e)\n".utf8))
            // Damaged data in the after-checkpoint is a failed step; anything else is I/O or usage.
            if case .store(let s) = e, CLIExit.code(for: s) == 1, s.path == after { throw ExitCode(1) }
            if case .invalidArgument(let m) = e, m.hasPrefix(after + ":"), sources.failedValidation { throw ExitCode(1) }
            throw ExitCode(2)
        }
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
        print(json ? report.jsonText() : report.summary(limit: show))
        if !report.passed { throw ExitCode(1) }
    }
}

/// Opens checkpoints for `step` and `verify-step` as tensor sources: a wafer file directly; a
/// Megatron directory assembled into a temporary wafer file through `Sharding.Converter`,
/// remembering replicated tensors that differ across ranks.
///
/// The assembled file lives in `$TMPDIR/ckpt-step.tmp-<pid>-<start>-<random>/` (`/tmp` when
/// TMPDIR is unset), registered for deletion on SIGINT/SIGTERM/SIGHUP and removed by
/// `removeTemporaries` on every other exit; `ckpt gc $TMPDIR` (or the next step run) deletes
/// what a killed run left.
final class StepSources {
    /// Temporary directories created.
    private(set) var temporaries: [String] = []
    /// Divergent replicas found per opened path.
    private(set) var divergentReplicas: [String: [DivergentReplica]] = [:]
    /// Whether the last failure was a Megatron directory failing validation (exit 1).
    private(set) var failedValidation = false

    /// Opens `path` (file or Megatron directory).
    func open(_ path: String) throws(ReferenceError) -> any TensorSource {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            return try CheckpointFileSource(path: path)
        }
        let base = Self.temporaryRoot + "/ckpt-step"
        StaleTemporaries.removeStale(beside: base)
        let dir = AtomicFile.temporaryPath(for: base)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .invalidArgument("\(dir): cannot create a temporary directory (\(PlainErrorMessage.describe(error))); set TMPDIR to a writable directory")
        }
        TemporaryRegistry.register(dir)
        temporaries.append(dir)
        let wafer = dir + "/assembled.h5"
        let options = ConvertOptions(writer: WriterOptions(codec: .none), allowDivergentReplicas: true)
        do {
            let report = try Converter(options: options).convert(path, to: .wafer, output: wafer)
            divergentReplicas[path] = report.divergentReplicas
        } catch {
            failedValidation = error.isValidationFailure
            throw .invalidArgument("\(path): \(error)")
        }
        return try CheckpointFileSource(path: wafer)
    }

    /// Deletes the temporary assembled files.
    func removeTemporaries() {
        for d in temporaries {
            TemporaryRegistry.remove(d)
            TemporaryRegistry.unregister(d)
        }
        temporaries.removeAll()
    }

    /// `$TMPDIR` without a trailing slash, or `/tmp`.
    static var temporaryRoot: String {
        var t = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        while t.count > 1 && t.hasSuffix("/") { t.removeLast() }
        return t.isEmpty ? "/tmp" : t
    }
}
