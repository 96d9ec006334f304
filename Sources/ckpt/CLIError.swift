import CheckpointStore

/// Failures the CLI itself detects, with their exit codes.
enum CLIError: Error, CustomStringConvertible {
    /// Bad flags or arguments (exit 2).
    case usage(String)
    /// Checks failed; the details were already printed (exit 1).
    case checksFailed(String)

    var description: String {
        switch self {
        case .usage(let m): return m
        case .checksFailed(let m): return m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: return 2
        case .checksFailed: return 1
        }
    }
}

/// Exit codes for store errors: 2 for usage and I/O trouble, 1 for bad data.
enum CLIExit {
    static func code(for e: StoreError) -> Int32 {
        switch e {
        case .fileNotFound, .io, .invalidArgument, .writerState, .outputExists, .insufficientSpace: return 2
        default: return 1
        }
    }
}
