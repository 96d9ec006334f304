import ReferenceCore

/// A `PipelinePlan` as `step --json` and `verify-step --json` print it (`plan`).
struct PlanJSON: Encodable {
    var mode: String
    var residentBlocks: Int
    var stages: Int
    var budgetBytes: Int?
    var estimatedPeakBytes: Int

    enum CodingKeys: String, CodingKey {
        case mode, stages
        case residentBlocks = "resident_blocks", budgetBytes = "budget_bytes", estimatedPeakBytes = "estimated_peak_bytes"
    }

    init(_ p: PipelinePlan) {
        mode = p.mode.rawValue
        residentBlocks = p.residentBlocks
        stages = p.stages.count
        budgetBytes = p.budgetBytes
        estimatedPeakBytes = p.estimatedPeakBytes
    }

    /// One line for the text output.
    var summary: String {
        let gib = { (b: Int) in String(format: "%.2f GiB", Double(b) / Double(1 << 30)) }
        let budget = budgetBytes.map(gib) ?? "unbounded"
        return mode == "in-memory"
            ? "memory: in memory (estimated \(gib(estimatedPeakBytes)), budget \(budget))"
            : "memory: \(mode), \(stages) stages of \(residentBlocks) blocks (estimated \(gib(estimatedPeakBytes)), budget \(budget))"
    }
}
