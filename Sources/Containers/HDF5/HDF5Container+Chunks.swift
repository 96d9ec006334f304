import CheckpointStore

extension HDF5Container: ChunkedTensorContainer {
    /// `chunk[0]` of the dataset; a contiguous dataset (0-d or empty tensors) counts as one
    /// chunk of all its rows, since it is read whole.
    public func chunkRows(_ key: TensorKey) -> Int? {
        guard let info = try? reader.info(key) else { return nil }
        let rows = info.shape.first ?? 1
        return max(1, info.chunkShape?.first ?? rows)
    }
}
