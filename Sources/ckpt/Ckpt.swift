import ArgumentParser
import CheckpointStore
import Foundation

/// The `ckpt` command line: store, shard and verify training checkpoints.
struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Store, shard and verify training checkpoints of GPT-style models.",
        discussion: """
            Exit status (every command): 0 ok; 1 a check failed or the data is bad (damaged, empty or \
            non-HDF5 checkpoint, incomplete Megatron directory, failed verification); 2 usage or I/O \
            (bad flags, missing input, unknown tensor name, existing output without --force, failed write); \
            129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (temporaries removed).
            With --json every command prints exactly one JSON object on stdout, failures included: \
            {"ok": false, "verdict": "error", "error": "<message>", "exit_code": N}.
            Progress bars appear on stderr only when it is a terminal, and never with --json.
            Shell completion: ckpt --generate-completion-script bash|zsh|fish (e.g. \
            `ckpt --generate-completion-script bash > /etc/bash_completion.d/ckpt`).
            """,
        version: "\(CheckpointFormat.writerVersion), \(HDF5Library.summary)",
        subcommands: CommandRegistry.all)

    /// Bare `ckpt` prints the help and fails with the usage exit code.
    func run() throws {
        FileHandle.standardError.write(Data((Ckpt.helpMessage() + "\n").utf8))
        throw ExitCode(ExitPolicy.usage)
    }
}

/// Entry point: parses, runs, and maps every failure through `ExitPolicy` to an exit code and a
/// one-line message on stderr (or, with `--json`, one JSON error document on stdout).
@main
enum Main {
    static func main() {
        // First, before any thread exists: every thread inherits the blocked signals.
        SignalCleanup.install()
        // With `ulimit -f` a write past the limit must fail with EFBIG, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try Ckpt.parseAsRoot()
            try command.run()
        } catch let e as ExitCode {
            // The command already printed its report (and, with --json, its document).
            exit(e.rawValue)
        } catch {
            if Ckpt.exitCode(for: error) == .success {
                Ckpt.exit(withError: error)  // --help, --version, completion scripts
            }
            let code = ExitPolicy.code(for: error)
            if JSONDocument.requested {
                print(JSONDocument.error(ExitPolicy.message(for: error), exitCode: code))
            } else if ExitPolicy.isOwnError(error) {
                FileHandle.standardError.write(Data("ckpt: \(ExitPolicy.message(for: error))\n".utf8))
            } else {
                FileHandle.standardError.write(Data((Ckpt.fullMessage(for: error) + "\n").utf8))
            }
            exit(code)
        }
    }
}
