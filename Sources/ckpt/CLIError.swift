/// Failures the CLI itself detects; `ExitPolicy` maps them to exit codes.
enum CLIError: Error, CustomStringConvertible {
    /// Bad flags or arguments (exit 2).
    case usage(String)
    /// Checks failed or the input data is bad (exit 1).
    case checksFailed(String)
    /// A file-system operation failed (exit 2).
    case io(String)

    var description: String {
        switch self {
        case .usage(let m), .checksFailed(let m), .io(let m): return m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage, .io: return ExitPolicy.usage
        case .checksFailed: return ExitPolicy.bad
        }
    }
}
