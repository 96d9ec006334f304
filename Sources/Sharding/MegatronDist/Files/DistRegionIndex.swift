import CheckpointStore
import Containers

/// The tensors of a container over a DCP store, each with the region of the global tensors it
/// is read from: what `MegatronDistRank` and `TorchtitanStateDict` share. Reading intersects
/// the tensor's box with the store's chunks (`DistRegion.read`).
struct DistRegionIndex {
    /// The store the regions are read from.
    let store: any DistCheckpointStore
    /// The tensors, in the container's order.
    let tensors: [ContainerTensor]
    private let index: [TensorKey: (ContainerTensor, DistRegion)]

    /// An index of `entries` (tensor, region), in order.
    init(store: any DistCheckpointStore, entries: [(ContainerTensor, DistRegion)]) {
        self.store = store
        tensors = entries.map(\.0)
        var index: [TensorKey: (ContainerTensor, DistRegion)] = [:]
        for e in entries { index[e.0.key] = e }
        self.index = index
    }

    /// The tensor stored under `key`, or nil.
    func describe(_ key: TensorKey) -> ContainerTensor? { index[key]?.0 }

    /// Where tensor `key` lies in the global tensors, or nil.
    func region(_ key: TensorKey) -> DistRegion? { index[key]?.1 }

    /// Reads `box` of `key` from its global tensor(s); `path` names the container in errors.
    func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(ContainerError) {
        guard let (t, region) = index[key] else { throw .noSuchTensor(path: path, tensor: key.description) }
        guard buffer.count >= box.count * t.dtype.size else {
            throw .badTensor(path: path, tensor: key.description, detail: "buffer of \(buffer.count) bytes for box \(box)")
        }
        try region.read(box: box, shape: t.shape, elementSize: t.dtype.size, from: store, into: buffer)
    }
}
