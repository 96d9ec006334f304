import CheckpointStore

@testable import Containers

/// A container over byte arrays held in memory (dense row-major tensors), for tests.
final class MemoryContainer: TensorContainer, @unchecked Sendable {
    let path: String
    let tensors: [ContainerTensor]
    let data: [TensorKey: [UInt8]]
    /// Keys whose reads fail, as a damaged file would.
    var failing: Set<TensorKey> = []

    init(path: String = "memory", _ items: [(ContainerTensor, [UInt8])]) {
        self.path = path
        self.tensors = items.map(\.0)
        var d: [TensorKey: [UInt8]] = [:]
        for (t, b) in items { d[t.key] = b }
        self.data = d
    }

    var formatName: String { "memory" }
    var verifiesChecksums: Bool { false }
    func describe(_ key: TensorKey) -> ContainerTensor? { tensors.first { $0.key == key } }

    func read(_ key: TensorKey, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let t = describe(key), let bytes = data[key] else { throw .noSuchTensor(path: path, tensor: key.description) }
        if failing.contains(key) { throw .malformed(path: path, detail: "tensor \(key) unreadable") }
        var strides = Array(repeating: 1, count: t.shape.count)
        for d in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * t.shape[d + 1] }
        bytes.withUnsafeBytes { b in
            StridedCopy.copy(
                from: b.baseAddress!, elementSize: t.dtype.size, offset: 0, shape: t.shape, strides: strides, box: box,
                into: buffer.baseAddress!)
        }
    }
}
