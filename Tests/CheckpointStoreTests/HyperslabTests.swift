import Foundation
import Testing

@testable import CheckpointStore

@Suite struct HyperslabTests {
    @Test(arguments: [Codec.none, .zstd(level: 1)])
    func selectionsEqualReferenceSlices(codec: Codec) throws {
        let dir = makeTempDir("hs\(codec)")
        let path = dir + "/h.h5"
        let shapes: [[Int]] = [[97, 53], [6, 11, 29], [4000]]
        let w = try CheckpointWriter(path: path, options: WriterOptions(codec: codec, chunkBytes: 700))
        var data: [[UInt8]] = []
        for (i, s) in shapes.enumerated() {
            let b = sampleBytes(.float32, count: s.reduce(1, *), seed: UInt64(100 + i))
            try b.withUnsafeBytes { try w.write(.model("t\(i)"), dtype: .float32, shape: s, bytes: $0) }
            data.append(b)
        }
        try w.commit()
        let r = try CheckpointReader(path: path)
        var rng = SplitMix64(seed: 42)
        for (i, s) in shapes.enumerated() {
            for _ in 0..<40 {
                let sel = s.map { n -> DimSelection in
                    let stride = Int(rng.next() % 3) + 1
                    let start = Int(rng.next() % UInt64(n))
                    let maxCount = (n - 1 - start) / stride + 1
                    return DimSelection(start: start, count: Int(rng.next() % UInt64(maxCount)) + 1, stride: stride)
                }
                let got = try r.read(.model("t\(i)"), selection: sel)
                #expect(got.shape == sel.map(\.count))
                #expect(got.bytes == slice(data[i], shape: s, esize: 4, sel), "tensor \(s) selection \(sel)")
            }
            let rows = try r.read(.model("t\(i)"), rows: 1..<3)
            #expect(rows.bytes == slice(data[i], shape: s, esize: 4, [.range(1..<3)] + s.dropFirst().map { .all($0) }))
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func outOfRangeSelectionIsRejected() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try CheckpointWriter(path: dir + "/o.h5")
        try w.write(.model("x"), shape: [4, 4], floats: [Float](repeating: 1, count: 16))
        try w.commit()
        let r = try CheckpointReader(path: dir + "/o.h5")
        #expect(throws: StoreError.self) { try r.read(.model("x"), selection: [.range(0..<5), .all(4)]) }
        #expect(throws: StoreError.self) { try r.read(.model("x"), selection: [.all(4)]) }
        #expect(throws: StoreError.self) { try r.read(.model("missing")) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
