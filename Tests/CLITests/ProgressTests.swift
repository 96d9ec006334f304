import Foundation
import Testing

/// Issue 9 item 19: `verify`, `get`, `step` and `verify-step` show progress on a terminal and
/// stay quiet when stderr is not one, or with `--json`. The terminal is a pseudo-terminal from
/// `script(1)`.
@Suite struct ProgressTests {
    /// Runs `ckpt args` on a pseudo-terminal; returns everything the terminal showed.
    func onTerminal(_ args: [String]) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let quoted = ([CLI.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        p.arguments = ["-qec", quoted, "/dev/null"]
        return try CLI.collect(p)
    }

    static let clearLine = "\r\u{1B}[K"

    @Test(arguments: ["verify", "get", "step", "verify-step"])
    func progressOnATerminalOnly(command: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let dir = CLI.tempDir("progress" + command)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fx = CLIFixtures.fixture
        let args: [String]
        let label: String
        switch command {
        case "verify": (args, label) = (["verify", fx + "/before.h5"], "verify before.h5")
        case "get": (args, label) = (["get", fx + "/before.h5", "embed.tokens.weight", "--out", dir + "/OUT.npy"], "get embed.tokens.weight")
        case "step": (args, label) = (["step", "--before", fx + "/before.h5", "--batch", fx + "/batch.h5", "--out", dir + "/OUT.h5"], "step: update+write")
        default:
            (args, label) = (["verify-step", "--before", fx + "/before.h5", "--after", fx + "/after.h5", "--batch", fx + "/batch.h5"], "verify-step: compare")
        }
        func fresh(_ a: [String], _ tag: String) -> [String] { a.map { $0.replacingOccurrences(of: "OUT", with: tag) } }

        let tty = try onTerminal(fresh(args, "tty"))
        #expect(tty.status == 0, "\(tty.stdout)")
        #expect(tty.stdout.contains(Self.clearLine + label), "no progress for \(command) on a terminal: \(tty.stdout.debugDescription)")

        let piped = try CLI.run(fresh(args, "piped"))
        #expect(piped.status == 0)
        #expect(piped.stderr.isEmpty, "progress while piped: \(piped.stderr.debugDescription)")

        let json = try onTerminal(fresh(args, "json") + ["--json"])
        #expect(json.status == 0)
        #expect(!json.stdout.contains(Self.clearLine), "progress with --json: \(json.stdout.debugDescription)")
    }
}
