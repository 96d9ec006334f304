import CheckpointStore

/// ckpt's own HDF5 checkpoint file (format v1) as a `TensorContainerWriter`: a thin adapter over
/// `CheckpointWriter` and its `TensorStream`s, so the converter writes ckpt files through the
/// same protocol as every other format.
///
/// Tensors must arrive in manifest order (the protocol's contract; HDF5 itself would accept any
/// order, the check keeps writers interchangeable). The root metadata (step, model_config,
/// optimizer, layout, RNG, user metadata) is given at creation and written at `commit`.
public final class HDF5ContainerWriter: TensorContainerWriter {
    /// The underlying writer.
    public let writer: CheckpointWriter
    /// The tensors, in writing order.
    public let manifest: [ContainerTensor]
    private var next = 0

    /// Creates the temporary file beside `path` (see `CheckpointWriter.init`) with `metadata`
    /// as the root attributes to write at commit.
    public init(
        path: String, manifest: [ContainerTensor], metadata: CheckpointMetadata, options: WriterOptions = WriterOptions()
    ) throws(ContainerError) {
        do { writer = try CheckpointWriter(path: path, options: options) } catch { throw .store(error) }
        writer.metadata = metadata
        self.manifest = manifest
    }

    /// The final path.
    public var path: String { writer.path }

    /// Starts the next tensor of the manifest as a `TensorStream`.
    public func beginTensor(_ key: TensorKey, dtype: DType, shape: [Int]) throws(ContainerError) -> any TensorByteSink {
        guard next < manifest.count else {
            throw .badTensor(path: path, tensor: key.description, detail: "not in the manifest (all \(manifest.count) tensors were written)")
        }
        let expected = manifest[next]
        guard expected.key == key, expected.dtype == dtype, expected.shape == shape else {
            throw .badTensor(
                path: path, tensor: key.description,
                detail: "out of manifest order: expected \(expected.key) \(expected.dtype.rawValue) \(expected.shape), got \(dtype.rawValue) \(shape)")
        }
        next += 1
        do { return HDF5TensorSink(stream: try writer.beginTensor(key, dtype: dtype, shape: shape)) } catch { throw .store(error) }
    }

    /// Writes the root metadata and publishes the file atomically; fails unless every tensor of
    /// the manifest was written.
    public func commit() throws(ContainerError) {
        guard next == manifest.count else {
            writer.abort()
            throw .badTensor(
                path: path, tensor: manifest[next].key.description, detail: "manifest tensor not written before commit")
        }
        do { try writer.commit() } catch { throw .store(error) }
    }

    /// Deletes the temporary file.
    public func abort() { writer.abort() }
}
