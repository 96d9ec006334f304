import CheckpointStore
import Containers

/// A single-file (wafer layout) ckpt checkpoint as a `TensorSource`, read through
/// `HDF5Container` (whole-tensor reads verify xxh3_64, partial reads the chunks' Fletcher-32).
public final class CheckpointFileSource: TensorSource {
    /// The file as a container.
    public let container: HDF5Container
    private let source: ContainerTensorSource

    /// Opens `path`, refusing a file whose metadata checksum does not match (its learning rate,
    /// step or configuration may have been changed).
    public init(path: String) throws(ReferenceError) {
        do {
            let reader = try CheckpointReader(path: path)
            try reader.requireIntactMetadata()
            container = HDF5Container(reader: reader)
        } catch {
            throw .store(error)
        }
        source = ContainerTensorSource(container: container, metadata: container.reader.metadata)
    }

    /// The file path.
    public var path: String { container.path }
    /// The file's metadata.
    public var metadata: CheckpointMetadata { source.metadata }

    /// dtype and shape from the file's dataset description.
    public func describe(_ key: TensorKey) -> (dtype: DType, shape: [Int])? { source.describe(key) }

    /// Reads and widens one tensor (xxh3_64 verified).
    public func readFloats(_ key: TensorKey) throws(ReferenceError) -> [Float] { try source.readFloats(key) }

    /// Reads one tensor (xxh3_64 verified) into `out`; float32 tensors are decoded straight
    /// into it.
    public func readFloats(_ key: TensorKey, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        try source.readFloats(key, into: out)
    }

    /// Reads rows of one tensor (the chunks' Fletcher-32 verified; all rows: also xxh3_64).
    public func readFloats(_ key: TensorKey, rows: Range<Int>) throws(ReferenceError) -> [Float] {
        try source.readFloats(key, rows: rows)
    }
}
