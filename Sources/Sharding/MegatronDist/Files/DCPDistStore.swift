import CheckpointStore
import Containers

/// A `DistCheckpointStore` over the DCP layer's `DCPCheckpoint` (`Containers/DCP`): the
/// resharding reads and byte items of a real `.metadata` + `__R_k.distcp` directory.
public final class DCPDistStore: DistCheckpointStore {
    /// The checkpoint.
    public let checkpoint: DCPCheckpoint
    /// Every tensor entry with a dtype ckpt has.
    public let tensorEntries: [DistTensorEntry]
    /// The byte items' names.
    public let byteItemNames: [String]

    /// The iteration directory.
    public var path: String { checkpoint.path }

    /// Opens the DCP checkpoint in `directory`. A tensor of a dtype ckpt has no equivalent for
    /// is refused naming it.
    public init(directory: String) throws(ContainerError) {
        let c = try DCPCheckpoint(path: directory)
        if let (fqn, dtype) = c.unsupported.sorted(by: { $0.key < $1.key }).first {
            throw .unsupported(path: directory, detail: "tensor \(PrintableName.of(fqn)) has dtype \(dtype), which ckpt does not convert")
        }
        checkpoint = c
        tensorEntries = c.metadata.tensors.compactMap { t in t.dtype.map { DistTensorEntry(fqn: t.fqn, dtype: $0, shape: t.shape) } }
        byteItemNames = c.metadata.bytesItems.map(\.fqn)
    }

    /// Reads `box` of `fqn` through the chunks it meets.
    public func read(_ fqn: String, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let t = checkpoint.entry(fqn) else { throw .noSuchTensor(path: path, tensor: PrintableName.of(fqn)) }
        try checkpoint.read(t, box: box, into: buffer)
    }

    /// The byte item `fqn` as the `torch.save` archive it holds.
    public func object(_ fqn: String) throws(ContainerError) -> any TorchPickleSource {
        try checkpoint.bytesArchive(fqn)
    }
}
