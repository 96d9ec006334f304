import ArgumentParser
import CheckpointStore
import Containers
import Foundation
import Sharding

/// `ckpt verify`: integrity check for unattended jobs.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every checksum, scan floats for NaN/Inf, check shapes against model_config.",
        discussion: """
            Each argument is a checkpoint file or a Megatron checkpoint directory. For a directory the \
            structure is checked (tracker, every rank of the TP x PP grid present, ranks agreeing on \
            model_config, step, optimizer and layout) and every rank file is verified.
            Exit status: 0 every file intact, 1 a check failed (each failing tensor is named; a damaged, \
            empty or non-checkpoint file also counts), 2 usage or I/O error (a missing path, a directory \
            that is not a Megatron checkpoint). Progress (bytes checked, rate) is shown on a terminal.

            Example:
              ckpt verify model.h5
              ckpt verify megatron-ckpt/ --json
            """)

    @Argument(help: "Checkpoint files or Megatron checkpoint directories (at least one).") var files: [String]
    @Flag(help: "Print a JSON report.") var json = false
    @Flag(name: .customLong("allow-nonfinite"), help: "Do not fail on NaN/Inf values.") var allowNonFinite = false
    @Flag(
        name: .customLong("allow-partial"),
        help: "Do not fail when optimizer state is missing for some parameters (exp_avg without exp_avg_sq, no master for a 16-bit parameter, ...).")
    var allowPartial = false
    /// Set on the child process `IsolatedVerification` starts (one file, JSON result on stdout).
    @Flag(name: .customLong(IsolatedVerification.childFlag), help: .private) var isolatedChild = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one checkpoint file or directory") }
    }

    func run() throws {
        var verifier = CheckpointVerifier()
        verifier.rejectNonFinite = !allowNonFinite
        verifier.allowPartial = allowPartial
        if isolatedChild {
            IsolatedVerification.serve(path: files[0], verifier: verifier)
            return
        }
        let childFlags = (allowNonFinite ? ["--allow-nonfinite"] : []) + (allowPartial ? ["--allow-partial"] : [])
        var reports: [VerificationReport] = []
        var worst = ExitPolicy.ok
        /// Verifies one checkpoint file, printing its result line.
        func verifyFile(_ f: String, label: String) {
            let t0 = Date()
            let bar = Progress(total: 1, label: "verify \(label)", enabled: Progress.shown(json: json))
            var v = verifier
            v.progress = { done, total in
                bar.phase("verify \(label)", total: total, keepClock: true)
                bar.update(done)
            }
            do {
                let r = try IsolatedVerification.verify(path: f, flags: childFlags) { done, total in
                    bar.phase("verify \(label)", total: total, keepClock: true)
                    bar.update(done)
                }
                bar.finish()
                reports.append(r)
                if !r.ok { worst = max(worst, ExitPolicy.bad) }
                if !json {
                    for fail in r.failures { print("FAIL \(fail.message)") }
                    let secs = Date().timeIntervalSince(t0)
                    print(
                        "\(r.ok ? "ok  " : "FAIL") \(f): \(r.tensorsChecked) tensors, \(Format.bytes(r.bytesChecked)) checked in "
                            + String(format: "%.2fs", secs) + (r.ok ? "" : ", \(r.failures.count) failure(s)"))
                    for n in r.notes { print("     note: \(n)") }
                }
            } catch {
                bar.finish()
                failed(f, check: "io", error)
            }
        }
        /// Verifies a checkpoint of another format: its structure was validated when it was
        /// opened (headers, offsets, storages, the layout's tensors and shapes for directories);
        /// every tensor is read and scanned for NaN/Inf. No checksums exist to recompute.
        func verifyForeign(_ input: ForeignInput) {
            if !json {
                let what = input.source.map { "\($0.layout.description), \(input.files.count) file(s)" } ?? "\(input.files[0].container.tensors.count) tensors"
                print("ok   \(input.path): \(input.formatName) (\(what)), structure valid")
            }
            for (label, c) in input.files {
                let t0 = Date()
                let bar = Progress(total: 1, label: "verify \(label ?? input.formatName)", enabled: Progress.shown(json: json))
                var v = ContainerVerifier()
                v.rejectNonFinite = verifier.rejectNonFinite
                let r = v.verify(c)
                bar.finish()
                reports.append(r)
                if !r.ok { worst = max(worst, ExitPolicy.bad) }
                if !json {
                    for fail in r.failures { print("FAIL \(fail.message)") }
                    print(
                        "\(r.ok ? "ok  " : "FAIL") \(c.path): \(r.tensorsChecked) tensors, \(Format.bytes(r.bytesChecked)) read in "
                            + String(format: "%.2fs", Date().timeIntervalSince(t0)) + (r.ok ? "" : ", \(r.failures.count) failure(s)"))
                    for n in r.notes { print("     note: \(n)") }
                }
            }
        }
        /// Records an input that could not be verified at all.
        func failed(_ f: String, check: String, _ error: any Error) {
            worst = max(worst, ExitPolicy.code(for: error))
            var r = VerificationReport(path: f)
            r.failures.append(.init(tensor: nil, check: check, message: ExitPolicy.message(for: error)))
            reports.append(r)
            if !json { print("FAIL \(ExitPolicy.message(for: error))") }
        }
        for f in files {
            let input: CheckpointInput
            do { input = try CheckpointInput.open(f) } catch {
                failed(f, check: "open", error)
                continue
            }
            switch input {
            case .file(let p): verifyFile(p, label: URL(fileURLWithPath: p).lastPathComponent)
            case .megatron(let dir, let ranks):
                // The directory structure, as convert checks it, then every rank file present.
                do {
                    _ = try CheckpointSource(path: dir, maxOpenReaders: 1, checkMetadata: false)  // each rank's child checks it
                    if !json { print("ok   \(dir): Megatron directory, \(ranks.count) rank files") }
                } catch {
                    failed(dir, check: "structure", error)
                }
                for r in ranks where FileManager.default.fileExists(atPath: r.path) { verifyFile(r.path, label: r.label) }
            case .foreign(let input):
                verifyForeign(input)
            }
        }
        if json {
            struct Out: Encodable { var files: [VerificationReport] }
            print(JSONDocument.text(Out(files: reports), exitCode: worst))
        }
        if worst != ExitPolicy.ok { throw ExitCode(worst) }
    }
}
