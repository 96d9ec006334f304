import Foundation
import Glibc

/// Whether a process runs, and when it started, read from `/proc` (with `kill(pid, 0)` where
/// `/proc` says nothing).
public enum ProcessLiveness {
    /// A process's state as far as this machine can tell.
    public enum State: Sendable, Equatable {
        /// No process with this pid runs.
        case gone
        /// A process with this pid runs; its start time (clock ticks since boot) when readable.
        case running(startTime: UInt64?)
    }

    /// This process's start time in clock ticks since boot (0 when `/proc` is unavailable).
    public static let ownStartTime: UInt64 = startTime(pid: getpid()) ?? 0

    /// The state of `pid`.
    public static func state(pid: Int32) -> State {
        switch procStat(pid: pid) {
        case .some((let state, let start)):
            // A zombie (or a dying process) writes nothing any more.
            return state == "Z" || state == "X" ? .gone : .running(startTime: start)
        case .none:
            if kill(pid, 0) == 0 || errno == EPERM { return .running(startTime: nil) }
            return .gone
        }
    }

    /// Field 22 (`starttime`) of `/proc/<pid>/stat`, nil when unreadable.
    static func startTime(pid: Int32) -> UInt64? {
        procStat(pid: pid)?.start
    }

    /// Fields 3 (state) and 22 (`starttime`) of `/proc/<pid>/stat`, nil when unreadable.
    private static func procStat(pid: Int32) -> (state: Substring, start: UInt64?)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start with field 3 (state).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard let state = fields.first else { return nil }
        return (state, fields.count > 19 ? UInt64(fields[19]) : nil)
    }
}
