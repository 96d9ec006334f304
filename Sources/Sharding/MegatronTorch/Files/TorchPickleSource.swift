import Containers

/// A `torch.save` archive as Megatron's reader needs it: the decoded pickle and a way to read a
/// box of any tensor it references. `TorchArchive` is the implementation; tests use in-memory
/// trees.
public protocol TorchPickleSource: AnyObject, Sendable {
    /// The file, for messages.
    var path: String { get }
    /// The unpickled root object.
    var root: PickleValue { get }
    /// Copies `box` of `tensor` (row-major, little-endian) into `buffer`; `name` is used in
    /// errors.
    func read(_ tensor: TorchTensorRef, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer, name: String) throws(ContainerError)
}
