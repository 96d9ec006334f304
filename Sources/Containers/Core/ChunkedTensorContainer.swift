import CheckpointStore

/// A container that stores tensors in chunks of whole rows (ckpt's HDF5 files), so readers can
/// align their reads to chunk boundaries and decode each chunk once.
///
/// Containers without chunks (memory-mapped safetensors, `torch.save` storages) do not adopt
/// it: any row range reads at the same cost there.
public protocol ChunkedTensorContainer: TensorContainer {
    /// Rows (dimension 0) of one stored chunk of `key`, or nil when `key` is not stored. Reads
    /// whose row ranges start and end on multiples of it touch each chunk once.
    func chunkRows(_ key: TensorKey) -> Int?
}
