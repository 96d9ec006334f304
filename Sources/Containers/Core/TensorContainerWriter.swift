import CheckpointStore

/// Writes one output file of any supported format, tensor by tensor, streaming.
///
/// A writer is created with the full list of tensors it will hold (`[ContainerTensor]`, the
/// manifest: safetensors' header and a `torch.save` pickle need it) and receives them in that
/// order. Nothing appears under the final path until `commit` (temporary file, fsync, rename);
/// `abort` or an error removes the temporary.
public protocol TensorContainerWriter: AnyObject {
    /// The final path.
    var path: String { get }
    /// Starts the next tensor of the manifest; its bytes (row-major, little-endian, exactly
    /// `dtype.size * count`) follow through the sink.
    func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink
    /// Finishes the file and publishes it atomically.
    func commit() throws(ContainerError)
    /// Drops the temporary; the final path is untouched.
    func abort()
    /// Whether the writer shares no mutable state with any other writer, so different writers
    /// may receive their tensors on different threads at once (each writer from one thread at a
    /// time). Writers over a library with process-wide state (HDF5) say no.
    var isIndependent: Bool { get }
}

extension TensorContainerWriter {
    /// No, unless the writer says otherwise.
    public var isIndependent: Bool { false }
}

/// The byte stream of one tensor being written.
public protocol TensorByteSink: AnyObject {
    /// Appends the next bytes of the tensor.
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError)
    /// Ends the tensor; fails unless exactly its byte count was appended.
    func finish() throws(ContainerError)
}
