import CheckpointStore
import Containers

/// What Megatron's `torch_dist` reader needs of the PyTorch DCP checkpoint in an iteration
/// directory (`.metadata` + `__R_k.distcp`): its global tensors by fully qualified name, any box
/// of them (the chunks intersected), and its byte items decoded as `torch.save` payloads.
///
/// `DCPDistStore` is the implementation over the DCP layer (`Containers/DCP`); tests use
/// in-memory stores.
public protocol DistCheckpointStore: AnyObject, Sendable {
    /// The iteration directory, for messages.
    var path: String { get }
    /// Every tensor entry (global shape and dtype), in the metadata's order.
    var tensorEntries: [DistTensorEntry] { get }
    /// The fully qualified names of the byte items (ShardedObjects, `common_state/shard_0_1`).
    var byteItemNames: [String] { get }
    /// Copies `box` of the global tensor `fqn` (row-major over the box, little-endian) into the
    /// start of `buffer`.
    func read(_ fqn: String, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError)
    /// The byte item `fqn` decoded as the `torch.save` archive it holds.
    func object(_ fqn: String) throws(ContainerError) -> any TorchPickleSource
}

/// One global tensor of a DCP checkpoint.
public struct DistTensorEntry: Sendable, Hashable {
    /// Its fully qualified name (`decoder.layers.mlp.linear_fc1.weight`).
    public var fqn: String
    /// Element type.
    public var dtype: DType
    /// Global shape.
    public var shape: [Int]

    /// Creates an entry.
    public init(fqn: String, dtype: DType, shape: [Int]) {
        self.fqn = fqn
        self.dtype = dtype
        self.shape = shape
    }
}
