import CheckpointStore
import Containers

/// One opened rank file of a Megatron directory.
public struct MegatronRankContents: Sendable {
    /// Its tensors.
    public var container: any TensorContainer
    /// Its metadata (step, model_config, optimizer, RNG ...).
    public var metadata: CheckpointMetadata
    /// The rank and shape it says it belongs to.
    public var rankLayout: MegatronRankLayout

    /// Creates a description.
    public init(container: any TensorContainer, metadata: CheckpointMetadata, rankLayout: MegatronRankLayout) {
        self.container = container
        self.metadata = metadata
        self.rankLayout = rankLayout
    }
}
