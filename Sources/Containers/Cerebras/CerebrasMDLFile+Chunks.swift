import CheckpointStore

extension CerebrasMDLFile: ChunkedTensorContainer {
    /// `chunk[0]` of the tensor's dataset (h5py chooses the chunking); a contiguous dataset
    /// counts as one chunk of all its rows.
    public func chunkRows(_ key: TensorKey) -> Int? {
        guard let t = describe(key), let dataset = datasetName(key), let info = try? file.describe(dataset) else { return nil }
        let rows = t.shape.first ?? 1
        return max(1, info.chunkShape?.first ?? rows)
    }
}
