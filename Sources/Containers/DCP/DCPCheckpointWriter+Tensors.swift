import CheckpointStore

/// `TensorContainerWriter`: whole tensors streamed row-major, cut into their planned chunks on
/// the way. This needs chunks that are row blocks (each takes whole rows: every dimension
/// but the first complete), which is what FSDP's `Shard(0)`, a single chunk and Megatron's
/// per-layer chunks of a stacked tensor without TP are; other plans write with `beginChunk`.
extension DCPCheckpointWriter {
    /// Starts tensor `key` (fqn: the name of a `.model` key, else its printed form); its dtype
    /// and shape must be the plan's.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        try usable()
        let fqn = key.isModel ? key.name : key.description
        let name = PrintableName.of(fqn)
        guard let t = plan.tensors.first(where: { $0.fqn == fqn }) else { throw fail(.badTensor(path: path, tensor: name, detail: "not in the write plan")) }
        guard t.dtype == dtype, t.shape == shape else {
            throw fail(.badTensor(path: path, tensor: name, detail: "written as \(dtype.rawValue) \(shape), planned as \(t.dtype.rawValue) \(t.shape)"))
        }
        let blocks = t.chunks.map(\.box).sorted { $0.offsets.first ?? 0 < $1.offsets.first ?? 0 }
        for b in blocks where !b.offsets.isEmpty && zip(b.sizes.dropFirst(), shape.dropFirst()).contains(where: { $0 != $1 }) {
            throw fail(
                .unsupported(path: path, detail: "tensor \(name): chunk \(b) is not a block of whole rows; write its chunks with beginChunk"))
        }
        return DCPRowBlockSink(writer: self, fqn: fqn, blocks: blocks, elementSize: dtype.size)
    }
}
