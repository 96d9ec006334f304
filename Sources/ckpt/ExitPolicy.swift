import ArgumentParser
import CheckpointStore
import Containers
import Foundation
import ReferenceCore
import Sharding

/// The one exit-code policy of `ckpt`, applied by `Main` to every error any command throws:
///
/// - 0: success (every check passed).
/// - 1: a check failed or the data is bad — a damaged, truncated, empty or non-HDF5 checkpoint
///   file, bad metadata, a Megatron directory with a missing rank file or a bad tracker, a
///   failed verification or step check, a malformed batch file.
/// - 2: usage or I/O — bad flags, a missing input, a directory that is not a Megatron checkpoint
///   where a checkpoint is expected, a tensor name the checkpoint does not have, an existing
///   output, a failed read/write/rename (disk full, permissions).
enum ExitPolicy {
    /// Success.
    static let ok: Int32 = 0
    /// A check failed or the data is bad.
    static let bad: Int32 = 1
    /// Usage or I/O error.
    static let usage: Int32 = 2

    /// The exit code for `error`.
    static func code(for error: any Error) -> Int32 {
        switch error {
        case let e as StoreError: return code(for: e)
        case let e as ShardingError: return code(for: e)
        case let e as ReferenceError: return code(for: e)
        case let e as ContainerError: return code(for: e)
        case let e as CLIError: return e.exitCode
        case let e as ExitCode: return e.rawValue
        default: return usage
        }
    }

    /// Store errors: bad file content is 1; a missing file, a bad argument or a failing system
    /// call is 2.
    static func code(for e: StoreError) -> Int32 {
        switch e {
        case .fileNotFound, .io, .invalidArgument, .writerState, .outputExists, .insufficientSpace: return usage
        default: return bad
        }
    }

    /// Sharding errors: a Megatron directory that is incomplete or inconsistent (missing rank,
    /// bad tracker, ranks that disagree) is bad data (1); a path that is no checkpoint at all, an
    /// unusable target or an existing output is usage (2).
    static func code(for e: ShardingError) -> Int32 {
        switch e {
        case .store(let s): return code(for: s)
        case .notACheckpoint(let path, let detail):
            // The tracker file exists, so this is a Megatron checkpoint whose tracker is bad.
            let trackerProblem = path.hasSuffix("/" + MegatronDirectory.trackerFile) || detail.hasPrefix("the tracker names")
            return trackerProblem ? bad : usage
        default: return e.isValidationFailure ? bad : usage
        }
    }

    /// Container errors (foreign formats): a failing system call is 2, bad or refused content 1.
    static func code(for e: ContainerError) -> Int32 {
        switch e {
        case .store(let s): return code(for: s)
        case .io: return usage
        default: return bad
        }
    }

    /// Reference-step errors: bad checkpoint or batch content is 1, a bad option is 2.
    static func code(for e: ReferenceError) -> Int32 {
        switch e {
        case .store(let s): return code(for: s)
        case .container(let c): return code(for: c)
        case .invalidArgument: return usage
        default: return bad
        }
    }

    /// The one-line message for `error` (argument-parser errors without the usage text).
    static func message(for error: any Error) -> String {
        if isOwnError(error) { return String(describing: error) }
        return Ckpt.message(for: error)
    }

    /// Whether `error` is one of ckpt's own (not an argument-parser error).
    static func isOwnError(_ error: any Error) -> Bool {
        error is StoreError || error is ShardingError || error is ReferenceError || error is ContainerError || error is CLIError
    }
}
