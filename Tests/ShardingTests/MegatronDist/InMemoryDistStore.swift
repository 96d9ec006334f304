import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// A DCP checkpoint held in memory: dense global tensors (row-major bytes) and byte items
/// already decoded. Counts reads so tests can see how a region was fetched.
final class InMemoryDistStore: DistCheckpointStore, @unchecked Sendable {
    // `@unchecked Sendable`: `reads` is only touched by single-threaded tests.
    let path: String
    let tensorEntries: [DistTensorEntry]
    let byteItemNames: [String]
    private let data: [String: [UInt8]]
    private let objects: [String: PickleValue]
    var reads: [(String, TensorBox)] = []

    init(path: String = "mem/iter_0000001", tensors: [(DistTensorEntry, [UInt8])], objects: [String: PickleValue] = [:]) {
        self.path = path
        tensorEntries = tensors.map(\.0)
        var d: [String: [UInt8]] = [:]
        for (e, b) in tensors { d[e.fqn] = b }
        data = d
        self.objects = objects
        byteItemNames = objects.keys.sorted()
    }

    func read(_ fqn: String, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        guard let e = tensorEntries.first(where: { $0.fqn == fqn }), let bytes = data[fqn] else { throw .noSuchTensor(path: path, tensor: fqn) }
        guard box.fits(e.shape), buffer.count >= box.count * e.dtype.size else { throw .badTensor(path: path, tensor: fqn, detail: "box \(box)") }
        reads.append((fqn, box))
        var strides = Array(repeating: 1, count: e.shape.count)
        if e.shape.count > 1 { for d in stride(from: e.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * e.shape[d + 1] } }
        bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress, let out = buffer.baseAddress else { return }
            StridedCopy.copy(from: base, elementSize: e.dtype.size, offset: 0, shape: e.shape, strides: strides, box: box, into: out)
        }
    }

    func object(_ fqn: String) throws(ContainerError) -> any TorchPickleSource {
        guard let v = objects[fqn] else { throw .noSuchTensor(path: path, tensor: fqn + " (bytes item)") }
        return InMemoryTorchSource(path: path + "/" + fqn, root: v, storages: [:])
    }
}

/// Element-encoded tensors: element i of a float32 tensor holds the value i (exact up to 2^24).
enum Encoded {
    static func float32(_ count: Int, base: Float = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 4)
        for i in 0..<count { withUnsafeBytes(of: (base + Float(i)).bitPattern.littleEndian) { out += $0 } }
        return out
    }

    static func values(_ bytes: [UInt8]) -> [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}
