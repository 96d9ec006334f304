import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Boxes of whole rows of at least `SafetensorsFile.preadThreshold` bytes are read with pread,
/// smaller or partial-row boxes from the mapping: both give the file's bytes.
@Suite struct SafetensorsLargeReadTests {
    @Test func preadAndMappedReadsGiveTheSameBytes() throws {
        let dir = TestDirectory()
        let rows = 1024, cols = 600  // 2.4 MB of float32
        let t = ContainerTensor(key: .model("w"), dtype: .float32, shape: [rows, cols])
        let values = (0..<rows * cols).map { Float($0) * 0.5 }
        let bytes = values.withUnsafeBytes { Array($0) }
        let path = dir.file("big.safetensors")
        let w = try SafetensorsWriter(path: path, manifest: [t])
        let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
        try bytes.withUnsafeBytes { try sink.append($0) }
        try sink.finish()
        try w.commit()

        let f = try SafetensorsFile(path: path)
        #expect(try f.readAll(t.key) == bytes)  // one pread of the whole tensor
        for (r0, r1) in [(0, 1024), (3, 900), (1000, 1024), (5, 6)] {  // pread, then the mapping for small boxes
            let box = TensorBox.rows(r0..<r1, of: t.shape)
            var out = [UInt8](repeating: 0, count: box.count * 4)
            try out.withUnsafeMutableBytes { try f.read(t.key, box: box, into: $0) }
            #expect(out == Array(bytes[r0 * cols * 4..<r1 * cols * 4]), "rows \(r0)..<\(r1)")
        }
        // A partial-row box goes through the strided copy.
        let box = TensorBox(offsets: [10, 7], sizes: [900, 500])
        var out = [UInt8](repeating: 0, count: box.count * 4)
        try out.withUnsafeMutableBytes { try f.read(t.key, box: box, into: $0) }
        let firstRow = Array(bytes[(10 * cols + 7) * 4..<(10 * cols + 507) * 4])
        #expect(Array(out[0..<2000]) == firstRow)
    }
}
