import Foundation

/// A `ckpt` run in the background, for tests that signal it mid-run.
final class ChildProcess {
    let process = Process()
    private let err = Pipe()

    /// Starts `ckpt args...` with `environment` added to the test's own.
    init(_ args: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
    }

    /// Waits (up to `seconds`) until `condition` holds or the process ends; returns whether it held.
    func wait(upTo seconds: Double, for condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return condition()
    }

    /// Sends `sig`, waits for the end; returns the exit status (128 + n for a signal death, as
    /// a shell reports it) and stderr.
    func signal(_ sig: Int32) -> (status: Int32, stderr: String) {
        kill(process.processIdentifier, sig)
        return finish()
    }

    /// Waits for the end; returns the exit status (128 + n for a signal death) and stderr.
    func finish() -> (status: Int32, stderr: String) {
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return (status, String(decoding: e, as: UTF8.self))
    }
}

/// Files in `dir` whose name marks a ckpt temporary (`.tmp-`), recursively.
func temporaries(in dir: String) -> [String] {
    let all = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? []
    return all.filter { $0.contains(".tmp-") }.sorted()
}
