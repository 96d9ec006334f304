import Foundation
import Glibc

/// The name of a temporary file or directory ckpt builds beside its target:
/// `<target>.tmp-<pid>-<start>-<random>`, where `<start>` is the writing process's start time
/// (clock ticks since boot, field 22 of `/proc/<pid>/stat`). A temporary is stale when no
/// process with that pid *and* that start time is running, so a reused pid never makes a dead
/// writer's temporary look live. Names of ckpt before 0.2 (`<target>.tmp-<pid>-<random>`) have
/// no start time; they count as stale only when no process with the pid runs at all.
public struct TemporaryName: Sendable, Equatable {
    /// The final path the temporary was built for.
    public var target: String
    /// The pid of the process that created it.
    public var pid: Int32
    /// That process's start time in clock ticks since boot (nil in names without one).
    public var startTime: UInt64?

    /// The marker between the target's name and the temporary suffix.
    public static let marker = ".tmp-"

    /// A fresh temporary path for `target`, owned by this process.
    public static func fresh(for target: String) -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(target)\(marker)\(getpid())-\(ProcessLiveness.ownStartTime)-\(random)"
    }

    /// Parses a path made by `fresh` (or by ckpt before 0.2); nil for any other name.
    public init?(parsing path: String) {
        guard let r = path.range(of: Self.marker, options: .backwards), r.lowerBound != path.startIndex else { return nil }
        let base = path[..<r.lowerBound]
        if base.hasSuffix("/") { return nil }
        let parts = path[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ !$0.isEmpty }),
            let pid = Int32(parts[0]), pid > 0,
            parts.last!.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLowercase) })
        else { return nil }
        var start: UInt64? = nil
        if parts.count == 3 {
            guard let s = UInt64(parts[1]) else { return nil }
            start = s
        }
        self.target = String(base)
        self.pid = pid
        self.startTime = start
    }

    /// Whether the process that created this temporary is gone (so removing it is safe).
    public var isStale: Bool {
        switch ProcessLiveness.state(pid: pid) {
        case .gone: return true
        case .running(let start):
            guard let startTime, startTime != 0, let start else { return false }
            return start != startTime
        }
    }
}
