import Containers

/// A `torch.save` archive being written, as Megatron's writer needs it: storages streamed one
/// after the other, then the pickled root that references them. `TorchArchiveWriter` is the
/// implementation; tests use an in-memory one.
public protocol TorchArchiveSink: AnyObject {
    /// Starts the next storage of `elementCount` elements of torch dtype `dtypeName`; its bytes
    /// follow through the sink, and tensors reference it through the returned storage.
    func beginStorage(dtypeName: String, elementCount: Int) throws(ContainerError) -> (TorchStorageRef, any TensorByteSink)
    /// Pickles `root` and publishes the archive atomically.
    func commit(root: PickleValue) throws(ContainerError)
    /// Drops everything written; the final path is untouched.
    func abort()
    /// Whether the sink shares no mutable state with other sinks (see
    /// `TensorContainerWriter.isIndependent`).
    var isIndependent: Bool { get }
}

extension TorchArchiveSink {
    /// No, unless the sink says otherwise.
    public var isIndependent: Bool { false }
}
