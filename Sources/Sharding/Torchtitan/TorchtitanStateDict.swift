import CheckpointStore
import Containers

/// A torchtitan DCP checkpoint (`CheckpointManager.save`) as one container of the
/// `torchtitan` layout: the model's tensors under their FQNs (`.model("tok_embeddings.weight")`)
/// and the Adam moments under the same names (`.optimizer("exp_avg", fqn)`), each read from its
/// global tensors (`DistRegion`), so every FSDP / TP chunking reads alike.
///
/// torchtitan's optimizer keys its state by parameter, `optimizer.state.<fqn>.<state>`. Where a
/// parameter is fused while its model tensors are saved split (`FusedStateRule`: the `wqkv` of
/// `FusedQKVLinear`), each part's moment is the part's row blocks of the fused moment.
public final class TorchtitanStateDict: TensorContainer {
    /// The checkpoint directory.
    public let path: String
    /// Model tensors in the checkpoint's order, then the optimizer states.
    public var tensors: [ContainerTensor] { regions.tensors }
    /// `torchtitan`.
    public var formatName: String { TorchtitanFormats.name }
    /// DCP stores no checksums.
    public var verifiesChecksums: Bool { false }

    private let regions: DistRegionIndex

    /// A container of `store` holding `entries` (tensor, region), in order.
    init(store: any DistCheckpointStore, entries: [(ContainerTensor, DistRegion)]) {
        path = store.path
        regions = DistRegionIndex(store: store, entries: entries)
    }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? { regions.describe(key) }

    /// Where tensor `key` lies in the checkpoint's global tensors, or nil.
    public func region(_ key: TensorKey) -> DistRegion? { regions.region(key) }

    /// Reads `box` of `key` from its global tensor(s).
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        try regions.read(key, box: box, into: buffer, path: path)
    }
}
