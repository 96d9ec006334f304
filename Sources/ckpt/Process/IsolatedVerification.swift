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
    /// Seconds the metadata phase may take (`CKPT_VERIFY_METADATA_TIMEOUT`, default 15): HDF5
    /// 1.10 can also loop forever on a damaged global heap object size.
    static var metadataSeconds: Double {
        ProcessInfo.processInfo.environment["CKPT_VERIFY_METADATA_TIMEOUT"].flatMap(Double.init).map { max(1, $0) } ?? 15
    }
    /// The start of a progress line on the child's stderr: `progress DONE TOTAL`.
    static let progressPrefix = "progress "
    /// The line the child writes on stderr once the metadata and structure are checked.
    static let metadataCheckedLine = "metadata checked"

    /// What the child prints on stdout: the report, or the I/O error that prevented one.
    struct ChildResult: Codable {
        var report: VerificationReport?
        var notFound = false
        var ioOperation: String?
        var ioErrno: Int32?
    }

    /// Child side: verifies `path` and prints a `ChildResult` as JSON; tells the parent on
    /// stderr when the metadata phase is over and how far the data phase is. Exits at once if
    /// the parent goes away (killed, say, by a job's time limit) instead of running on orphaned.
    static func serve(path: String, verifier: CheckpointVerifier) {
        let parent = getppid()
        DispatchQueue.global().async {
            while getppid() == parent { usleep(100_000) }
            _exit(1)
        }
        #if DEBUG
            // Fault injection for the tests of the time limit: a metadata phase that never ends.
            if ProcessInfo.processInfo.environment["CKPT_TEST_STALL_METADATA"] != nil { while true { sleep(60) } }
        #endif
        var result = ChildResult()
        var verifier = verifier
        verifier.metadataChecked = { FileHandle.standardError.write(Data("\(metadataCheckedLine)\n".utf8)) }
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

    /// Parent side: verifies `path` in one child process and returns its report. The child must
    /// finish the metadata phase within `metadataSeconds` (libhdf5 may loop on a malformed file)
    /// or it is killed; a child killed by a signal (libhdf5 crashing) or over its time limit
    /// becomes a report with one `open` failure. `progress` follows the data phase.
    static func verify(
        path: String, flags: [String], progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }
    ) throws(StoreError) -> VerificationReport {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executablePath())
        p.arguments = ["verify", "--\(childFlag)"] + flags + ["--", path]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"  // a crash is expected output here; skip the backtracer
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let metadataDone = ChildSignal()
        let pending = LockedBuffer()
        err.fileHandleForReading.readabilityHandler = { h in
            let chunk = h.availableData
            if chunk.isEmpty {
                h.readabilityHandler = nil
                return
            }
            for line in pending.lines(appending: chunk) {
                if line == metadataCheckedLine { metadataDone.set() }
                guard line.hasPrefix(progressPrefix) else { continue }
                let parts = line.dropFirst(progressPrefix.count).split(separator: " ")
                if parts.count == 2, let d = Int(parts[0]), let t = Int(parts[1]) { progress(d, t) }
            }
        }
        defer { err.fileHandleForReading.readabilityHandler = nil }
        do { try p.run() } catch { throw .io(path: path, operation: "starting the verification process", errno: EAGAIN) }
        let output = ChildOutput()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { output.set(out.fileHandleForReading.readDataToEndOfFile()) }
        let deadline = Date().addingTimeInterval(metadataSeconds)
        var timedOut = false
        while p.isRunning {
            if !metadataDone.isSet && Date() > deadline {
                kill(p.processIdentifier, SIGKILL)
                timedOut = true
                break
            }
            usleep(5000)
        }
        p.waitUntilExit()
        reading.wait()
        var failed = VerificationReport(path: path)
        if timedOut {
            failed.failures.append(
                .init(
                    tensor: nil, check: "open",
                    message: "\(path): metadata damaged: libhdf5 did not finish reading its metadata in \(Int(metadataSeconds)) s"
                        + " (CKPT_VERIFY_METADATA_TIMEOUT); its HDF5 structure is damaged"))
            return failed
        }
        if p.terminationReason == .uncaughtSignal {
            failed.failures.append(
                .init(
                    tensor: nil, check: "open",
                    message: "\(path): metadata damaged: libhdf5 crashed reading it (signal \(p.terminationStatus)); its HDF5 structure is damaged"))
            return failed
        }
        guard let r = try? JSONDecoder().decode(ChildResult.self, from: output.data) else {
            failed.failures.append(
                .init(tensor: nil, check: "open", message: "\(path): verification process failed (exit \(p.terminationStatus)) without a report"))
            return failed
        }
        if r.notFound { throw .fileNotFound(path: path) }
        if let op = r.ioOperation { throw .io(path: path, operation: op, errno: r.ioErrno ?? EIO) }
        return r.report ?? failed
    }

    /// This executable's path (`/proc/self/exe` resolved, else argv[0]).
    static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }
}
