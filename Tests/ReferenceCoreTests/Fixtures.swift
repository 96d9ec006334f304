import Foundation

/// Paths of the committed PyTorch fixtures (made by tools/ref_make_fixture.py) and of the
/// repository's tools.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// `Fixtures/<precision>/<file>`.
    static func path(_ precision: String, _ file: String) -> String { "\(directory)/\(precision)/\(file)" }

    /// Runs `python3 tools/<script> args…`; returns the exit status and stderr.
    static func runTool(_ script: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "\(repository)/tools/\(script)"] + args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
