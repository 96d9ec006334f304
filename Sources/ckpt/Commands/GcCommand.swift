import ArgumentParser
import CheckpointStore
import Foundation

/// `ckpt gc`: deletes the temporaries (`<target>.tmp-<pid>-<start>-<random>`) that killed ckpt
/// processes left behind, never one a running process is still writing.
struct GcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete temporaries left behind by killed ckpt processes (never a running one's).",
        discussion: """
            Looks under DIR, recursively, for ckpt's temporary files and directories \
            (<target>.tmp-<pid>-<start>-<random>, and ckpt-step.tmp-* in $TMPDIR) and deletes those whose \
            process is gone: no process with that pid runs, or one runs that started at another time (a \
            reused pid). Temporaries of running processes are listed as kept. Only this machine's processes \
            can be seen: on a file system shared between machines run gc where the writers ran. \
            Exit status: 0 done (also when nothing was found), 2 usage or I/O error.
            Example: ckpt gc /checkpoints --dry-run
            """)

    @Argument(help: "Directory to clean (searched recursively).") var directory: String
    @Flag(name: .customLong("dry-run"), help: "List what would be deleted; delete nothing.") var dryRun = false
    @Flag(help: "Print the result as JSON.") var json = false

    /// One temporary in the result.
    struct Item: Encodable {
        var path: String
        var pid: Int32
        var bytes: Int64
        var directory: Bool
    }

    /// The JSON result.
    struct Summary: Encodable {
        var path: String
        var dryRun: Bool
        var removed: [Item]
        var kept: [Item]
        var removedBytes: Int64
        enum CodingKeys: String, CodingKey {
            case path, removed, kept
            case dryRun = "dry_run", removedBytes = "removed_bytes"
        }
    }

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw CLIError.usage("\(directory): no such directory")
        }
        guard isDir.boolValue else { throw CLIError.usage("\(directory): not a directory") }
        let found = StaleTemporaries.find(under: directory)
        var removed: [Item] = [], kept: [Item] = []
        for e in found {
            let item = Item(path: e.path, pid: e.name.pid, bytes: e.bytes, directory: e.isDirectory)
            // Checked again just before deleting: the process may have been found gone only now.
            if e.isStale && e.name.isStale {
                if !dryRun { TemporaryRegistry.remove(e.path) }
                removed.append(item)
            } else {
                kept.append(item)
            }
        }
        let total = removed.reduce(Int64(0)) { $0 + $1.bytes }
        if json {
            print(JSONDocument.text(Summary(path: directory, dryRun: dryRun, removed: removed, kept: kept, removedBytes: total)))
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        for i in removed { print("\(verb) \(i.path) (\(Format.bytes(Int(i.bytes))), pid \(i.pid) gone)") }
        for i in kept { print("kept \(i.path) (pid \(i.pid) is running)") }
        print(
            "\(verb) \(removed.count) stale temporar\(removed.count == 1 ? "y" : "ies") (\(Format.bytes(Int(total)))), kept \(kept.count) of running processes")
    }
}
