import CheckpointStore
import Containers

/// One (TP, PP) rank of a `torch_dist` checkpoint as a `TensorContainer`: the tensors the
/// rank's model held (ckpt's Megatron layout, local-spec names, as `MegatronTorchRank` names
/// them) and its optimizer states (`optimizer/exp_avg`, `optimizer/exp_avg_sq`,
/// `optimizer/master` for half-precision parameters), each read from its region of the global
/// tensors (`DistRegion`). No bytes are copied when it is created.
public final class MegatronDistRank: TensorContainer {
    /// The iteration directory and rank, for messages (`iter_0000002#tp1pp0`).
    public let path: String
    /// Which rank it is.
    public let file: ShardFile
    /// Every tensor: model tensors in layout order, then per parameter its optimizer states.
    public var tensors: [ContainerTensor] { regions.tensors }

    private let regions: DistRegionIndex

    /// `megatron-dist`.
    public var formatName: String { MegatronDistFormats.name }
    /// DCP stores no checksums.
    public var verifiesChecksums: Bool { false }

    /// A rank of `store` holding `entries` (tensor, region) in order.
    init(store: any DistCheckpointStore, file: ShardFile, entries: [(ContainerTensor, DistRegion)]) {
        self.file = file
        path = "\(store.path)#tp\(file.tpRank)pp\(file.ppRank)"
        regions = DistRegionIndex(store: store, entries: entries)
    }

    /// The tensor stored under `key`, or nil.
    public func describe(_ key: TensorKey) -> ContainerTensor? { regions.describe(key) }

    /// Where tensor `key` lies in the global tensors, or nil.
    public func region(_ key: TensorKey) -> DistRegion? { regions.region(key) }

    /// Reads `box` of `key` from its global tensor(s).
    public func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        try regions.read(key, box: box, into: buffer, path: path)
    }
}
