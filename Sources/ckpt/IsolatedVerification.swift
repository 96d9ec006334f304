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

    /// What the child prints on stdout: the report, or the I/O error that prevented one.
    struct ChildResult: Codable {
        var report: VerificationReport?
        var notFound = false
        var ioOperation: String?
        var ioErrno: Int32?
    }

    /// Child side: verifies `path` and prints a `ChildResult` as JSON.
    static func serve(path: String, verifier: CheckpointVerifier) {
        var result = ChildResult()
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
        print(Format.json(result))
    }

    /// Parent side: runs the child on `path` with the verify flags `flags` and returns its
    /// report; a child killed by a signal becomes a report with one `open` failure.
    static func verify(path: String, flags: [String]) throws(StoreError) -> VerificationReport {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executablePath())
        p.arguments = ["verify", "--\(childFlag)"] + flags + ["--", path]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"  // a crash is expected output here; skip the backtracer
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw .io(path: path, operation: "starting the verification process", errno: EAGAIN) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
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
