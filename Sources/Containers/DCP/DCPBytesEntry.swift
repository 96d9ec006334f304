/// A bytes item of a DCP checkpoint (`BytesStorageMetadata`): a non-tensor state-dict entry
/// (an int, a dict, Megatron's `common_state`, `_extra_state` and RNG ShardedObjects), stored
/// as the bytes the planner produced, normally `torch.save(obj)`.
public struct DCPBytesEntry: Sendable, Hashable {
    /// The fully qualified name.
    public var fqn: String
    /// Where its bytes are.
    public var storage: DCPStorageInfo

    /// Creates a record.
    public init(fqn: String, storage: DCPStorageInfo) {
        self.fqn = fqn
        self.storage = storage
    }
}
