import Foundation
import Testing

@testable import CheckpointStore

@Suite struct RoundTripTests {
    static let shapes: [[Int]] = [[], [0], [5, 0], [7], [1000, 37], [3, 5, 700], [1, 1, 1]]

    @Test(arguments: DType.allCases, [Codec.none, .zstd(level: 1), .zstd(level: 7)])
    func everyDtypeAndShapeRoundTripsBitExactly(dtype: DType, codec: Codec) throws {
        let dir = makeTempDir("rt\(dtype.rawValue)\(codec)")
        let path = dir + "/rt.h5"
        // Small chunks so tensors span many chunks, with edge chunks and splits past dim 0.
        let w = try CheckpointWriter(path: path, options: WriterOptions(codec: codec, chunkBytes: 1000, threads: 2))
        var expected: [TensorKey: [UInt8]] = [:]
        for (i, shape) in Self.shapes.enumerated() {
            let key = TensorKey.model("t\(i).weight")
            let bytes = sampleBytes(dtype, count: shape.reduce(1, *), seed: UInt64(i))
            try bytes.withUnsafeBytes { try w.write(key, dtype: dtype, shape: shape, bytes: $0) }
            expected[key] = bytes
        }
        try w.commit()
        let r = try CheckpointReader(path: path)
        #expect(r.tensors.count == Self.shapes.count)
        for (i, shape) in Self.shapes.enumerated() {
            let key = TensorKey.model("t\(i).weight")
            let info = try r.info(key)
            #expect(info.dtype == dtype)
            #expect(info.shape == shape)
            let d = try r.read(key)
            #expect(d.bytes == expected[key], "\(dtype) \(shape)")
            #expect(info.xxh3 == expected[key]!.withUnsafeBytes { XXH3Hasher.hash($0) })
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func streamedPiecesEqualOneShot() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = sampleBytes(.float32, count: 513 * 77, seed: 3)
        for (name, pieces) in [("one", [bytes.count]), ("many", [1, 3, 4093, 17, 100_000])] {
            let w = try CheckpointWriter(path: "\(dir)/\(name).h5", options: WriterOptions(chunkBytes: 4096))
            let s = try w.beginTensor(.model("x"), dtype: .float32, shape: [513, 77])
            var pos = 0, p = 0
            while pos < bytes.count {
                let n = min(pieces[p % pieces.count], bytes.count - pos)
                try bytes.withUnsafeBytes { try s.append(UnsafeRawBufferPointer(rebasing: $0[pos..<(pos + n)])) }
                pos += n
                p += 1
            }
            try s.finish()
            try w.commit()
        }
        let a = try CheckpointReader(path: "\(dir)/one.h5").read(.model("x"))
        let b = try CheckpointReader(path: "\(dir)/many.h5").read(.model("x"))
        #expect(a.bytes == bytes)
        #expect(b.bytes == bytes)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func metadataRoundTrips() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m.h5"
        let w = try CheckpointWriter(path: path)
        var m = CheckpointMetadata(
            step: 1234, modelConfig: ModelConfig.preset(family: "llama", name: "tiny"),
            optimizer: OptimizerConfig(variant: "decoupled", lr: 3e-4, weightDecay: 0.01))
        m.layoutJSON = #"{"kind":"megatron","pp":1,"pp_rank":0,"tp":2,"tp_rank":1}"#
        m.rng = ["torch_cpu": [1, 2, 3, 255], "empty": []]
        m.userJSON = #"{"note":"hello","loss":2.5}"#
        w.metadata = m
        try w.write(.model("a"), shape: [2], floats: [1, 2])
        try w.write(.optimizer("exp_avg", "a"), shape: [2], floats: [0, 0])
        try w.commit()
        let r = try CheckpointReader(path: path)
        #expect(r.metadata == m)
        #expect(r.recordedCounts.tensors == 2)
        #expect(r.recordedCounts.parameters == 2)
        #expect(r.tensors.map(\.key) == [.model("a"), .optimizer("exp_avg", "a")])
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func tensorKeysMapToNestedGroups() {
        let k = TensorKey.optimizer("exp_avg_sq", "layers.3.attn.q.weight")
        #expect(k.datasetPath == "/optimizer/exp_avg_sq/layers/3/attn/q/weight")
        #expect(k.description == "optimizer.exp_avg_sq.layers.3.attn.q.weight")
        #expect(TensorKey(parsing: k.description) == k)
        #expect(TensorKey(parsing: "layers.3.attn.q.weight") == .model("layers.3.attn.q.weight"))
        #expect(TensorKey.fromDatasetPath("model/layers/10/mlp/up/weight") == .model("layers.10.mlp.up.weight"))
        #expect(TensorKey.model("layers.2.x") < TensorKey.model("layers.10.x"))
    }
}
