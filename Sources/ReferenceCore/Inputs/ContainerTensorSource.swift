import CheckpointStore
import Containers

/// A `TensorSource` over any `TensorContainer` whose keys are canonical (a ckpt wafer file, or
/// a view that assembles canonical tensors from a sharded or foreign checkpoint as it reads).
///
/// Whole-tensor reads of a ckpt file verify the tensor's xxh3_64, partial reads the chunks'
/// Fletcher-32; containers without checksums are read as they are.
public final class ContainerTensorSource: TensorSource {
    /// The container read.
    public let container: any TensorContainer
    /// Checkpoint-level metadata.
    public let metadata: CheckpointMetadata

    /// Wraps `container`, whose checkpoint metadata is `metadata`.
    public init(container: any TensorContainer, metadata: CheckpointMetadata) {
        self.container = container
        self.metadata = metadata
    }

    /// The file or directory.
    public var path: String { container.path }

    /// dtype and shape as the container lists them.
    public func describe(_ key: TensorKey) -> (dtype: DType, shape: [Int])? {
        container.describe(key).map { ($0.dtype, $0.shape) }
    }

    /// Reads and widens one tensor.
    public func readFloats(_ key: TensorKey) throws(ReferenceError) -> [Float] {
        let t = try tensor(key)
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { (b) throws(ReferenceError) in try readFloats(key, into: b) }
        return out
    }

    /// Reads one tensor into `out` (float32 straight into it).
    public func readFloats(_ key: TensorKey, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        let t = try tensor(key)
        guard t.count == out.count else {
            throw .invalidArgument("\(path): tensor \(key) has \(t.count) elements, expected \(out.count)")
        }
        try read(t, box: .whole(t.shape), into: out)
    }

    /// Reads rows of one tensor.
    public func readFloats(_ key: TensorKey, rows: Range<Int>) throws(ReferenceError) -> [Float] {
        let t = try tensor(key)
        guard !t.shape.isEmpty, rows.lowerBound >= 0, rows.upperBound <= t.shape[0] else {
            throw .invalidArgument("\(path): tensor \(key): rows \(rows) outside shape \(t.shape)")
        }
        let box = TensorBox.rows(rows, of: t.shape)
        var out = [Float](repeating: 0, count: box.count)
        try out.withUnsafeMutableBufferPointer { (b) throws(ReferenceError) in try read(t, box: box, into: b) }
        return out
    }

    private func tensor(_ key: TensorKey) throws(ReferenceError) -> ContainerTensor {
        guard let t = container.describe(key) else { throw .store(.tensorNotFound(path: path, tensor: key.description)) }
        return t
    }

    private func read(_ t: ContainerTensor, box: TensorBox, into out: UnsafeMutableBufferPointer<Float>) throws(ReferenceError) {
        do throws(ContainerError) {
            if t.dtype == .float32 {
                try container.read(t.key, box: box, into: UnsafeMutableRawBufferPointer(out))
                return
            }
            var bytes = [UInt8](repeating: 0, count: box.count * t.dtype.size)
            let failure: ContainerError? = bytes.withUnsafeMutableBytes { b in
                do throws(ContainerError) {
                    try container.read(t.key, box: box, into: b)
                    return nil
                } catch { return error }
            }
            if let failure { throw failure }
            _ = out.update(fromContentsOf: TensorData(dtype: t.dtype, shape: box.sizes, bytes: bytes).floats())
        } catch {
            // ckpt's own store errors keep their type (callers and exit codes match on them).
            if case .store(let s) = error { throw ReferenceError.store(s) }
            throw ReferenceError.container(error)
        }
    }
}
