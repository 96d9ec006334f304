import ArgumentParser
import CheckpointStore
import Foundation
import ReferenceCore

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
        for (flag, v) in [("loss-rtol", lossRelative), ("state-rtol", stateRelativeL2), ("update-rtol", updateRelativeL2),
                          ("scale-tol", updateScale), ("element-bound", elementBound)] {
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
        let outcome: Result<StepVerificationReport, ReferenceError>
        do throws(ReferenceError) {
            outcome = .success(try StepVerifier(tolerances: tolerances()).verify(
                before: try Self.open(before), after: try Self.open(after), batchPath: batch))
        } catch {
            outcome = .failure(error)
        }
        let report: StepVerificationReport
        switch outcome {
        case .success(let r): report = r
        case .failure(let e):
            FileHandle.standardError.write(Data("ckpt: \(e)\n".utf8))
            // Damaged data in the after-checkpoint is a failed step; anything else is I/O or usage.
            if case .store(let s) = e, CLIExit.code(for: s) == 1, s.path == after { throw ExitCode(1) }
            throw ExitCode(2)
        }
        print(json ? report.jsonText() : report.summary(limit: show))
        if !report.passed { throw ExitCode(1) }
    }

    /// Opens a checkpoint as a tensor source.
    static func open(_ path: String) throws(ReferenceError) -> any TensorSource {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw .invalidArgument("\(path): is a directory; verify-step reads a checkpoint file (megatron directories are read through the Sharding assembler)")
        }
        return try CheckpointFileSource(path: path)
    }
}
