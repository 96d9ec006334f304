import CheckpointStore
import Containers
import Sharding

/// A `TensorContainer` over dense little-endian tensors in memory (no chunks, no checksums),
/// read by box with `StridedCopy`.
final class MemoryContainer: TensorContainer, @unchecked Sendable {
    // `@unchecked Sendable`: immutable after creation.
    let path: String
    let tensors: [ContainerTensor]
    let bytes: [TensorKey: [UInt8]]
    private let index: [TensorKey: ContainerTensor]

    init(path: String, tensors: [(ContainerTensor, [UInt8])]) {
        self.path = path
        self.tensors = tensors.map(\.0)
        var b: [TensorKey: [UInt8]] = [:]
        for (t, d) in tensors { b[t.key] = d }
        bytes = b
        index = Dictionary(tensors.map { ($0.0.key, $0.0) }, uniquingKeysWith: { a, _ in a })
    }

    var formatName: String { "memory" }
    var verifiesChecksums: Bool { false }
    func describe(_ key: TensorKey) -> ContainerTensor? { index[key] }

    func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let t = index[key], let data = bytes[key] else { throw .noSuchTensor(path: path, tensor: key.description) }
        guard box.fits(t.shape) else { throw .badTensor(path: path, tensor: key.description, detail: "box \(box) outside \(t.shape)") }
        guard buffer.count >= box.count * t.dtype.size else { throw .badTensor(path: path, tensor: key.description, detail: "buffer too small") }
        guard box.count > 0, let out = buffer.baseAddress else { return }
        data.withUnsafeBytes { src in
            StridedCopy.copy(
                from: src.baseAddress!, elementSize: t.dtype.size, offset: 0, shape: t.shape, strides: BoxCopy.strides(t.shape), box: box,
                into: out)
        }
    }
}
