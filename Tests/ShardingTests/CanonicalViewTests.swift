import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// `CanonicalView` reads canonical tensors of a Megatron directory or a Hugging Face checkpoint
/// straight from the source: the same bytes as converting to wafer and reading the file.
@Suite struct CanonicalViewTests {
    /// Compares every tensor of the view with the wafer file `wafer`: whole, by row ranges, and
    /// by a box of columns.
    static func expectSame(_ view: CanonicalView, as wafer: String) throws {
        let r = try CheckpointReader(path: wafer)
        #expect(Set(view.tensors.map(\.key)) == Set(r.tensors.map(\.key)))
        for t in r.tensors {
            let expected = try r.read(t.key)
            #expect(view.describe(t.key)?.shape == t.shape && view.describe(t.key)?.dtype == t.dtype)
            #expect(try view.readAll(t.key) == expected.bytes, "\(t.key)")
            let rows = t.shape.first ?? 1
            for range in [0..<min(rows, 3), rows / 3..<rows, rows - 1..<rows] where !range.isEmpty {
                #expect(try view.read(t.key, rows: range) == (try r.read(t.key, rows: range)).bytes, "\(t.key) rows \(range)")
            }
            if t.shape.count == 2 && t.shape[1] > 3 {
                let box = TensorBox(offsets: [1, 2], sizes: [rows - 1, t.shape[1] - 3])
                var got = [UInt8](repeating: 0, count: box.count * t.dtype.size)
                try got.withUnsafeMutableBytes { try view.read(t.key, box: box, into: $0) }
                let want = try r.read(t.key, selection: [.range(1..<rows), .range(2..<t.shape[1] - 1)]).bytes
                #expect(got == want, "\(t.key) box \(box)")
            }
        }
    }

    @Test(arguments: [(2, 2), (4, 1), (1, 4), (8, 4)])
    func megatronViewEqualsConvertingToWafer(tp: Int, pp: Int) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converter = try Converter(options: ConvertOptions(blockBytes: 700))
        for config in [TinyModels.gpt2Untied, TinyModels.llamaBias] {
            let base = "\(dir)/\(config.family)"
            try Fixtures.writeWafer(config, dtype: .bfloat16, path: base + ".h5", chunkBytes: 300)
            _ = try converter.convert(base + ".h5", to: .megatron(MegatronShape(tp: tp, pp: pp, vocabDivisibleBy: 4)), output: base + "-m")
            _ = try converter.convert(base + "-m", to: .wafer, output: base + "-back.h5")
            let view = try CanonicalView(source: CheckpointSource(path: base + "-m"))
            #expect(view.formatName == "canonical(megatron)" && view.verifiesChecksums)
            try Self.expectSame(view, as: base + "-back.h5")
            #expect(view.describe(.model("decoder.layers.0.self_attention.linear_qkv.weight")) == nil, "canonical names only")
        }
    }

    @Test func hfViewTransposesBack() throws {
        let f = try HFMemoryFixture(hfPath: "memory:/g")
        defer { f.remove() }
        let (dir, store, converter) = (f.dir, f.store, f.converter)
        _ = try converter.convert("memory:/g", to: .wafer, output: dir + "/back.h5")
        let view = try CanonicalView(source: CheckpointSource(path: "memory:/g", formats: store.registry()))
        #expect(!view.verifiesChecksums)
        try Self.expectSame(view, as: dir + "/back.h5")
        #expect(view.tensors.allSatisfy { $0.key.isModel })
    }
}
