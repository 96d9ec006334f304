import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The memory options of `ckpt step` and `ckpt verify-step`: a budget from which the plan picks
/// how many blocks stay resident (`PipelinePlan`), the clipping strategy of a pipelined step
/// and where a spill goes.
public struct StepMemory: Sendable, Equatable {
    /// Bytes the step may use (nil: unbounded, everything in memory).
    public var budgetBytes: Int?
    /// How a pipelined, clipped step gets the norm first.
    public var clipping: ClippingStrategy
    /// Blocks per stage, overriding the budget's choice (tests and benchmarks).
    public var residentBlocks: Int?
    /// Directory of the spill file (`ClippingStrategy.spill`).
    public var scratchDirectory: String

    /// Options with the given budget and strategy.
    public init(
        budgetBytes: Int? = nil, clipping: ClippingStrategy = .auto, residentBlocks: Int? = nil,
        scratchDirectory: String = StepMemory.defaultScratchDirectory
    ) {
        self.budgetBytes = budgetBytes
        self.clipping = clipping
        self.residentBlocks = residentBlocks
        self.scratchDirectory = scratchDirectory
    }

    /// No bound: the in-memory pass.
    public static let unbounded = StepMemory()

    /// The fraction of physical memory the command line's default budget takes.
    public static let defaultFraction = 0.6

    /// `defaultFraction` of this machine's physical memory.
    public static var defaultBudgetBytes: Int {
        Int(Double(ProcessInfo.processInfo.physicalMemory) * defaultFraction)
    }

    /// `$TMPDIR`, else `/tmp`.
    public static var defaultScratchDirectory: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// Free bytes in `scratchDirectory`, or nil when it cannot be queried.
    public var scratchRoom: Int? {
        var s = statvfs()
        guard statvfs(scratchDirectory, &s) == 0 else { return nil }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }
}
