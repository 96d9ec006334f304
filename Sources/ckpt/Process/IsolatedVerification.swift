import CheckpointStore
import Foundation
import Glibc

/// Verifies one file in a child process — this executable re-run as
/// `ckpt verify --isolated-child FILE` — so that libhdf5 crashing on a malformed file (HDF5 1.10
/// trusts the object sizes in its global heap and can segfault inside `H5Aread` of a damaged
/// string attribute) is reported as damage instead of killing `verify`.
enum IsolatedVerification {
    /// The private flag that selects the child side.
    static let childFlag = "isolated-child"
    /// The private flag that makes the child skip tensor data (the time-limited probe).
    static let probeFlag = "metadata-probe"
    /// Seconds the metadata probe may take (`CKPT_VERIFY_METADATA_TIMEOUT`, default 15): HDF5
    /// 1.10 can also loop forever on a damaged global heap object size.
    static var probeSeconds: Double {
        ProcessInfo.processInfo.environment["CKPT_VERIFY_METADATA_TIMEOUT"].flatMap(Double.init).map { max(1, $0) } ?? 15
    }

    /// What the child prints on stdout: the report, or the I/O error that prevented one.
    struct ChildResult: Codable {
        var report: VerificationReport?
        var notFound = false
        var ioOperation: String?
        var ioErrno: Int32?
    }

    /// Child side: verifies `path` and prints a `ChildResult` as JSON. Exits at once if the
    /// parent goes away (killed, say, by a job's time limit) instead of running on orphaned.
    static func serve(path: String, verifier: CheckpointVerifier) {
        let parent = getppid()
        DispatchQueue.global().async {
            while getppid() == parent { usleep(100_000) }
            _exit(1)
        }
        var result = ChildResult()
        var verifier = verifier
        // Progress goes to the parent as `progress DONE TOTAL` lines on stderr (a pipe it reads).
        verifier.progress = { done, total in
            FileHandle.standardError.write(Data("\(progressPrefix)\(done) \(total)\n".utf8))
        }
        do {
            result.report = try verifier.verify(path: path)
        } catch {
            switch error {
            case .fileNotFound: result.notFound = true
            case .io(_, let op, let e):
                result.ioOperation = op
                result.ioErrno = e
            default:
                var r = VerificationReport(path: path)
                r.failures.append(.init(tensor: nil, check: "open", message: error.description))
                result.report = r
            }
        }
        print(String(decoding: (try? JSONEncoder().encode(result)) ?? Data("{}".utf8), as: UTF8.self))
    }

    /// Parent side: first a metadata-only probe of `path` with a time limit (libhdf5 may crash or
    /// hang on a malformed file), then the full verification in a second child; returns its
    /// report. A child killed by a signal, or a probe over its time limit, becomes a report with
    /// one `open` failure.
    static func verify(
        path: String, flags: [String], progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }
    ) throws(StoreError) -> VerificationReport {
        var failed = VerificationReport(path: path)
        switch probe(path: path, flags: flags) {
        case .finished: break
        case .crashed(let signal):
            failed.failures.append(
                .init(
                    tensor: nil, check: "open",
                    message: "\(path): metadata damaged: libhdf5 crashed reading it (signal \(signal)); its HDF5 structure is damaged"))
            return failed
        case .timedOut:
            failed.failures.append(
                .init(
                    tensor: nil, check: "open",
                    message: "\(path): metadata damaged: libhdf5 did not finish reading its metadata in \(Int(probeSeconds)) s"
                        + " (CKPT_VERIFY_METADATA_TIMEOUT); its HDF5 structure is damaged"))
            return failed
        }
        return try run(path: path, flags: flags, progress: progress)
    }

    /// The start of a progress line on the full child's stderr.
    static let progressPrefix = "progress "

    /// Reads the child's `progress DONE TOTAL` lines from `pipe` as they arrive.
    static func forwardProgress(_ pipe: Pipe, to progress: @escaping @Sendable (Int, Int) -> Void) {
        let pending = LockedBuffer()
        pipe.fileHandleForReading.readabilityHandler = { h in
            let chunk = h.availableData
            if chunk.isEmpty {
                h.readabilityHandler = nil
                return
            }
            for line in pending.lines(appending: chunk) where line.hasPrefix(progressPrefix) {
                let parts = line.dropFirst(progressPrefix.count).split(separator: " ")
                if parts.count == 2, let d = Int(parts[0]), let t = Int(parts[1]) { progress(d, t) }
            }
        }
    }

    /// How the probe ended.
    enum ProbeOutcome { case finished, crashed(Int32), timedOut }

    /// Runs the metadata-only child, killing it after `probeSeconds`.
    static func probe(path: String, flags: [String]) -> ProbeOutcome {
        let p = child(path: path, flags: flags + ["--\(probeFlag)"])
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return .finished }  // the full run reports why it cannot start
        let deadline = Date().addingTimeInterval(probeSeconds)
        while p.isRunning && Date() < deadline { usleep(5000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            return .timedOut
        }
        return p.terminationReason == .uncaughtSignal ? .crashed(p.terminationStatus) : .finished
    }

    /// A configured child process `ckpt verify --isolated-child FLAGS -- PATH`.
    static func child(path: String, flags: [String]) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executablePath())
        p.arguments = ["verify", "--\(childFlag)"] + flags + ["--", path]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"  // a crash is expected output here; skip the backtracer
        p.environment = env
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        return p
    }

    /// Runs the full verification child and decodes its report.
    static func run(
        path: String, flags: [String], progress: @escaping @Sendable (Int, Int) -> Void
    ) throws(StoreError) -> VerificationReport {
        let p = child(path: path, flags: flags)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        forwardProgress(err, to: progress)
        do { try p.run() } catch { throw .io(path: path, operation: "starting the verification process", errno: EAGAIN) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        var crashed = VerificationReport(path: path)
        if p.terminationReason == .uncaughtSignal {
            crashed.failures.append(
                .init(
                    tensor: nil, check: "open",
                    message: "\(path): metadata damaged: libhdf5 crashed reading it (signal \(p.terminationStatus)); its HDF5 structure is damaged"))
            return crashed
        }
        guard let r = try? JSONDecoder().decode(ChildResult.self, from: data) else {
            crashed.failures.append(
                .init(tensor: nil, check: "open", message: "\(path): verification process failed (exit \(p.terminationStatus)) without a report"))
            return crashed
        }
        if r.notFound { throw .fileNotFound(path: path) }
        if let op = r.ioOperation { throw .io(path: path, operation: op, errno: r.ioErrno ?? EIO) }
        return r.report ?? crashed
    }

    /// This executable's path (`/proc/self/exe` resolved, else argv[0]).
    static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }
}
