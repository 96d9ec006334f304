import Foundation

/// Runs the built `ckpt` executable, as argument-parser's own tests do.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    /// The `ckpt` binary next to the test bundle.
    static var binary: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("ckpt").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("ckpt").path
    }

    /// Runs `ckpt args...`; with `shellPrefix`, through `sh -c "<prefix>; exec ckpt ..."`.
    static func run(_ args: [String], shellPrefix: String? = nil, cwd: String? = nil) throws -> CLIResult {
        let p = Process()
        if let shellPrefix {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            let quoted = ([binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            p.arguments = ["-c", "\(shellPrefix); exec \(quoted)"]
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        return try collect(p)
    }

    /// Runs `python3 args...` (the cross-check tools).
    static func python(_ args: [String]) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        return try collect(p)
    }

    /// Runs a configured process to completion, capturing its output.
    static func collect(_ p: Process) throws -> CLIResult {
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A fresh temporary directory.
    static func tempDir(_ tag: String = #function) -> String {
        let dir = NSTemporaryDirectory() + "ckpt-cli-\(tag.filter { $0.isLetter })-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
