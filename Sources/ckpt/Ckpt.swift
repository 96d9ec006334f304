import ArgumentParser
import CheckpointStore
import Foundation

/// The `ckpt` command line: store, shard and verify training checkpoints.
struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Store, shard and verify training checkpoints of GPT-style models.",
        version: "\(CheckpointFormat.writerVersion), \(HDF5Library.summary)",
        subcommands: CommandRegistry.all)
}

/// Entry point: parses, runs, and maps failures to exit codes (0 ok, 1 a check or input
/// failed, 2 usage or I/O error) with one-line messages.
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
        } catch let e as StoreError {
            FileHandle.standardError.write(Data("ckpt: \(e)\n".utf8))
            exit(CLIExit.code(for: e))
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("ckpt: \(e)\n".utf8))
            exit(e.exitCode)
        } catch {
            let code = Ckpt.exitCode(for: error)
            if code == .success {
                Ckpt.exit(withError: error)
            }
            if let e = error as? ExitCode { exit(e.rawValue) }
            FileHandle.standardError.write(Data((Ckpt.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
    }
}
