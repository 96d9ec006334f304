import CheckpointStore

/// What a conversion does: for every output file and tensor, which rectangles of which source
/// tensors fill it; plus what the source must look like and which replicas must agree.
///
/// Optimizer state tensors (`exp_avg`, `exp_avg_sq`, `master`) follow their parameter's pieces.
/// The plan is the unit a distributed run partitions (by output file and tensor).
public struct ReshardPlan: Sendable {
    /// The model.
    public let config: ModelConfig
    /// The source layout's tensors (what the source must hold, with local shapes).
    public let source: LayoutMap
    /// The target layout's tensors.
    public let target: LayoutMap
    /// The output files in writing order.
    public let files: [PlannedFile]
    /// Comparisons of source replicas with their primaries.
    public let replicaChecks: [ReplicaCheck]

    /// Creates a plan.
    public init(config: ModelConfig, source: LayoutMap, target: LayoutMap, files: [PlannedFile], replicaChecks: [ReplicaCheck]) {
        self.config = config
        self.source = source
        self.target = target
        self.files = files
        self.replicaChecks = replicaChecks
    }
}
