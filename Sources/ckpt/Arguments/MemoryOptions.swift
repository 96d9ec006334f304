import ArgumentParser
import ReferenceCore

extension ClippingStrategy: ExpressibleByArgument {}

/// The memory flags of `step` and `verify-step` (`formats/verify-step.md`, "Memory: pipeline
/// stages").
struct MemoryOptions: ParsableArguments {
    @Option(
        name: .customLong("memory-budget"),
        help: "RAM the step may use (2GiB, 500MB, bytes); the model is run in memory when it fits, else as a pipeline of as many blocks as fit. Default: 60% of physical memory.")
    var budget: ByteSize?
    @Option(help: "How a pipelined step with gradient clipping gets the global norm first: auto (spill when the scratch directory has room), two-pass, spill.")
    var clipping: ClippingStrategy = .auto
    @Option(name: .customLong("scratch-dir"), help: "Directory of the gradient spill file (unlinked at once; default $TMPDIR or /tmp).")
    var scratchDirectory: String?
    @Option(name: .customLong("resident-blocks"), help: "Run as a pipeline of stages of this many blocks, whatever the budget.")
    var residentBlocks: Int?

    func validate() throws {
        if let r = residentBlocks { try FlagBounds.check("resident-blocks", r, 1...Int.max) }
    }

    /// The library's options.
    var memory: StepMemory {
        StepMemory(
            budgetBytes: budget?.bytes ?? StepMemory.defaultBudgetBytes, clipping: clipping, residentBlocks: residentBlocks,
            scratchDirectory: scratchDirectory ?? StepMemory.defaultScratchDirectory)
    }
}
