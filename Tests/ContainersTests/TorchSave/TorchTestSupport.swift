import CheckpointStore

@testable import Containers

/// Small helpers for building `torch.save` archives in tests.
enum TorchTestSupport {
    /// Writes one storage of `bytes` and returns its reference.
    static func storage(_ w: TorchArchiveWriter, _ dtypeName: String, _ bytes: [UInt8]) throws -> TorchStorageRef {
        let es = TorchDTypeName.elementSize(dtypeName)!
        let (ref, sink) = try w.beginStorage(dtypeName: dtypeName, elementCount: bytes.count / es)
        try bytes.withUnsafeBytes { try sink.append($0) }
        try sink.finish()
        return ref
    }

    /// A contiguous tensor over a whole storage.
    static func tensor(_ s: TorchStorageRef, _ dtypeName: String, _ shape: [Int], offset: Int = 0, strides: [Int]? = nil) -> TorchTensorRef {
        TorchTensorRef(
            storage: s, dtypeName: dtypeName, storageOffset: offset, shape: shape, strides: strides ?? rowMajor(shape), requiresGrad: false,
            isParameter: false)
    }

    static func rowMajor(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] }
        return s
    }

    /// A string-keyed dict.
    static func dict(_ pairs: [(String, PickleValue)]) -> PickleValue {
        .dict(pairs.map { PickleDictEntry(key: .string($0.0), value: $0.1) })
    }

    /// Element-by-element gather of `box` of a strided view (the test's reference).
    static func gather(_ storage: [UInt8], elementSize es: Int, offset: Int, strides: [Int], box: TensorBox) -> [UInt8] {
        var out: [UInt8] = []
        func walk(_ d: Int, _ e: Int) {
            if d == box.sizes.count {
                out += storage[(e * es)..<((e + 1) * es)]
                return
            }
            for i in 0..<box.sizes[d] { walk(d + 1, e + (box.offsets[d] + i) * strides[d]) }
        }
        walk(0, offset)
        return out
    }

    /// `archive.read` of a box into a fresh array.
    static func read(_ a: TorchArchive, _ t: TorchTensorRef, _ box: TensorBox, _ es: Int, name: String = "t") throws -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: box.count * es)
        try out.withUnsafeMutableBytes { try a.read(t, box: box, into: $0, name: name) }
        return out
    }
}
