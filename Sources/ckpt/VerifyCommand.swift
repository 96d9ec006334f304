import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt verify`: integrity check for unattended jobs.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every checksum, scan floats for NaN/Inf, check shapes against model_config.",
        discussion: "Exit status: 0 every file intact, 1 a check failed (each failing tensor is named), 2 usage or I/O error.")

    @Argument(help: "Checkpoint files.") var files: [String]
    @Flag(help: "Print a JSON report.") var json = false
    @Flag(name: .customLong("allow-nonfinite"), help: "Do not fail on NaN/Inf values.") var allowNonFinite = false
    @Flag(
        name: .customLong("allow-partial"),
        help: "Do not fail when optimizer state is missing for some parameters (exp_avg without exp_avg_sq, no master for a 16-bit parameter, ...).")
    var allowPartial = false
    /// Set on the child process `IsolatedVerification` starts (one file, JSON result on stdout).
    @Flag(name: .customLong(IsolatedVerification.childFlag), help: .private) var isolatedChild = false
    @Flag(name: .customLong(IsolatedVerification.probeFlag), help: .private) var metadataProbe = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one checkpoint file") }
    }

    func run() throws {
        var verifier = CheckpointVerifier()
        verifier.rejectNonFinite = !allowNonFinite
        verifier.allowPartial = allowPartial
        verifier.readData = !metadataProbe
        if isolatedChild {
            IsolatedVerification.serve(path: files[0], verifier: verifier)
            return
        }
        let childFlags = (allowNonFinite ? ["--allow-nonfinite"] : []) + (allowPartial ? ["--allow-partial"] : [])
        var reports: [VerificationReport] = []
        var ioError: StoreError?
        for f in files {
            let t0 = Date()
            do {
                let r = try IsolatedVerification.verify(path: f, flags: childFlags)
                reports.append(r)
                if !json {
                    for fail in r.failures { print("FAIL \(fail.message)") }
                    let secs = Date().timeIntervalSince(t0)
                    print(
                        "\(r.ok ? "ok  " : "FAIL") \(f): \(r.tensorsChecked) tensors, \(Format.bytes(r.bytesChecked)) checked in "
                            + String(format: "%.2fs", secs) + (r.ok ? "" : ", \(r.failures.count) failure(s)"))
                    for n in r.notes { print("     note: \(n)") }
                }
            } catch {
                ioError = ioError ?? error
                var r = VerificationReport(path: f)
                r.failures.append(.init(tensor: nil, check: "io", message: error.description))
                reports.append(r)
                if !json { FileHandle.standardError.write(Data("ckpt: \(error)\n".utf8)) }
            }
        }
        if json {
            struct Out: Encodable { var ok: Bool; var files: [VerificationReport] }
            print(Format.json(Out(ok: reports.allSatisfy(\.ok), files: reports)))
        }
        if ioError != nil { throw ExitCode(2) }
        if !reports.allSatisfy(\.ok) { throw ExitCode(1) }
    }
}
