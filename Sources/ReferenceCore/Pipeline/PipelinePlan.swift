import CheckpointStore

/// How a step runs within its memory budget: in memory, or as a pipeline of stages of
/// `residentBlocks` blocks with the clipping strategy resolved (`formats/verify-step.md`,
/// "Memory: pipeline stages"). A pure function of the model, the batch shape and the options,
/// so every rank of a later scale-out computes the same plan.
public struct PipelinePlan: Sendable, Equatable {
    /// How the gradients reach the update.
    public enum Mode: String, Sendable {
        /// Everything resident: one pass, every gradient held until the norm is known.
        case inMemory = "in-memory"
        /// Pipelined without clipping: each tensor is updated as soon as its gradient is final.
        case singlePass = "single-pass"
        /// Pipelined, clipped: a norm pass, then a pass that updates (`ClippingStrategy.twoPass`).
        case twoPass = "two-pass"
        /// Pipelined, clipped: one pass spilling gradients to scratch (`ClippingStrategy.spill`).
        case spill
    }

    /// The chosen mode.
    public let mode: Mode
    /// Blocks per stage (all of them in memory).
    public let residentBlocks: Int
    /// The stages, in forward order.
    public let stages: [PipelineStage]
    /// The budget the plan was made for (nil: unbounded).
    public let budgetBytes: Int?
    /// The estimated peak of this plan.
    public let estimatedPeakBytes: Int
    /// The sizes it was computed from.
    public let estimate: MemoryEstimate

    /// The plan for `estimate` (of a model with `estimate.layers` blocks) under `memory`.
    /// `clipped` says whether the optimizer clips gradients; `spillRoom` is the free space of
    /// the scratch directory in bytes (checked against the gradients' size by `auto`). A budget
    /// below the smallest pipeline (one block resident) is an error naming both figures; `path`
    /// names the checkpoint in it.
    public static func make(
        estimate e: MemoryEstimate, memory: StepMemory, clipped: Bool, spillRoom: Int?, path: String
    ) throws(ReferenceError) -> PipelinePlan {
        let layers = max(1, e.layers)
        let budget = memory.budgetBytes
        var resident: Int
        if let forced = memory.residentBlocks {
            guard forced >= 1 else { throw .invalidArgument("\(path): resident blocks must be at least 1 (got \(forced))") }
            resident = min(forced, layers)
        } else if let budget {
            if e.inMemoryBytes <= budget {
                resident = layers
            } else {
                let fixed = e.pipelinedBytes(residentBlocks: 0), perBlock = e.blockParameterBytes + e.blockActivationBytes
                guard budget >= fixed + perBlock else {
                    throw .invalidArgument(
                        "\(path): memory budget \(Self.gib(budget)) is below the smallest pipeline of this model (\(Self.gib(fixed + perBlock)): one block resident, embeddings and head, logits); raise --memory-budget"
                    )
                }
                resident = min(layers, (budget - fixed) / max(1, perBlock))
            }
        } else {
            resident = layers
        }
        // Everything fits (and no stage size was forced): the in-memory pass.
        if memory.residentBlocks == nil && resident == layers && (budget.map { e.inMemoryBytes <= $0 } ?? true) {
            return PipelinePlan(
                mode: .inMemory, residentBlocks: layers, stages: PipelineStage.partition(layers: e.layers, perStage: layers),
                budgetBytes: budget, estimatedPeakBytes: e.inMemoryBytes, estimate: e)
        }
        resident = max(1, resident)
        let mode: Mode
        if !clipped {
            mode = .singlePass
        } else {
            let gradientBytes = e.edgeParameterBytes + e.layers * e.blockParameterBytes
            switch memory.clipping {
            case .twoPass: mode = .twoPass
            case .spill: mode = .spill
            case .auto: mode = (spillRoom ?? 0) >= gradientBytes + gradientBytes / 20 ? .spill : .twoPass
            }
        }
        return PipelinePlan(
            mode: mode, residentBlocks: resident, stages: PipelineStage.partition(layers: e.layers, perStage: resident),
            budgetBytes: budget, estimatedPeakBytes: e.pipelinedBytes(residentBlocks: resident), estimate: e)
    }

    static func gib(_ bytes: Int) -> String {
        let g = Double(bytes) / Double(1 << 30)
        return g >= 10 ? "\(Int(g.rounded())) GiB" : "\(Double(Int(g * 100)) / 100) GiB"
    }
}
