/// One stored chunk of a DCP tensor: the N-d box of the global tensor it holds
/// (`ChunkStorageMetadata` offsets and sizes) and where its item is (`_StorageInfo`).
public struct DCPChunk: Sendable, Hashable {
    /// The part of the global tensor the chunk holds.
    public var box: TensorBox
    /// Where the chunk's item (a complete `torch.save` zip, possibly transformed) is.
    public var storage: DCPStorageInfo

    /// Creates a chunk record.
    public init(box: TensorBox, storage: DCPStorageInfo) {
        self.box = box
        self.storage = storage
    }
}
