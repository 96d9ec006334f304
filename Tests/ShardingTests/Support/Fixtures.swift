import CheckpointStore
import Foundation

@testable import Sharding

/// Builds tiny checkpoints and compares them, each test in its own temporary directory.
enum Fixtures {
    /// A fresh temporary directory.
    static func tempDirectory() throws -> String {
        let p = NSTemporaryDirectory() + "ckpt-sharding-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Deterministic pseudo-random bytes (SplitMix64).
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for b in 0..<8 where i + b < count { out[i + b] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(b))) }
            i += 8
        }
        return out
    }

    /// Writes a wafer checkpoint of `config`: parameters in `dtype`, Adam moments in float32,
    /// a float32 master copy when `dtype` is not float32; metadata with step, optimizer, RNG.
    static func writeWafer(_ config: ModelConfig, dtype: DType, path: String, chunkBytes: Int = 1 << 12) throws {
        let w = try CheckpointWriter(path: path, options: WriterOptions(codec: .zstd(level: 1), chunkBytes: chunkBytes, threads: 2))
        w.metadata = CheckpointMetadata(
            step: 1234, modelConfig: config, optimizer: OptimizerConfig(variant: "decoupled"),
            rng: ["torch_cpu": randomBytes(40, seed: 1), "cuda": randomBytes(16, seed: 2)], userJSON: #"{"run":"test"}"#)
        for (k, t) in config.canonicalTensors().enumerated() {
            let n = t.shape.reduce(1, *)
            let seed = UInt64(k) * 16
            try writeBytes(w, .model(t.name), dtype, t.shape, randomBytes(n * dtype.size, seed: seed))
            try writeBytes(w, .optimizer("exp_avg", t.name), .float32, t.shape, randomBytes(n * 4, seed: seed + 1))
            try writeBytes(w, .optimizer("exp_avg_sq", t.name), .float32, t.shape, randomBytes(n * 4, seed: seed + 2))
            if dtype != .float32 {
                try writeBytes(w, .optimizer("master", t.name), .float32, t.shape, randomBytes(n * 4, seed: seed + 3))
            }
        }
        try w.commit()
    }

    static func writeBytes(_ w: CheckpointWriter, _ key: TensorKey, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try w.write(key, dtype: dtype, shape: shape, bytes: $0) }
    }

    /// Every tensor of a checkpoint file, read whole.
    static func tensors(_ path: String) throws -> [TensorKey: TensorData] {
        let r = try CheckpointReader(path: path)
        var out: [TensorKey: TensorData] = [:]
        for t in r.tensors { out[t.key] = try r.read(t.key) }
        return out
    }

    /// Rewrites a checkpoint file in place after `modify` changes its metadata and tensors.
    static func rewrite(_ path: String, _ modify: (inout CheckpointMetadata, inout [TensorKey: TensorData]) -> Void) throws {
        let r = try CheckpointReader(path: path)
        var metadata = r.metadata
        var all = try tensors(path)
        modify(&metadata, &all)
        let w = try CheckpointWriter(path: path)
        w.metadata = metadata
        for key in all.keys.sorted() { try w.write(key, all[key]!) }
        try w.commit()
    }

    /// Path of a rank file of a megatron output directory.
    static func rankPath(_ dir: String, _ shape: MegatronShape, tp: Int, pp: Int, step: Int64 = 1234) -> String {
        dir + "/" + MegatronDirectory.relativePath(of: ShardFile(tpRank: tp, ppRank: pp), shape: shape, step: step)
    }
}
