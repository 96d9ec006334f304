import CheckpointStore
import Foundation

@testable import ReferenceCore

/// Writes small random checkpoints for tests.
enum TestCheckpoints {
    /// A checkpoint of `config` at `step` with parameters in `dtype` (plus fp32 masters when
    /// `dtype` is bf16) and random Adam state (none when `withState` is false).
    static func write(
        _ config: ModelConfig, optimizer: OptimizerConfig, step: Int64, dtype: DType = .float32,
        withState: Bool = true, seed: UInt64 = 1, to path: String
    ) throws {
        var rng = SplitMix(seed)
        let w = try CheckpointWriter(path: path, options: WriterOptions(codec: .none, threads: 1))
        w.metadata = CheckpointMetadata(step: step, modelConfig: config, optimizer: optimizer)
        for (name, shape) in config.canonicalTensors() {
            let n = shape.reduce(1, *)
            let base: Double = name.hasSuffix("norm.weight") ? 1 : 0
            let master = (0..<n).map { _ in Float(base + 0.3 * rng.symmetric()) }
            if dtype == .bfloat16 {
                let bits = master.map { HalfPrecision.bf16Bits(from: $0) }
                try bits.withUnsafeBytes { try w.write(.model(name), dtype: .bfloat16, shape: shape, bytes: $0) }
                try w.write(.optimizer("master", name), shape: shape, floats: master)
            } else {
                try w.write(.model(name), shape: shape, floats: master)
            }
            if withState {
                try w.write(.optimizer("exp_avg", name), shape: shape, floats: (0..<n).map { _ in Float(0.01 * rng.symmetric()) })
                try w.write(.optimizer("exp_avg_sq", name), shape: shape, floats: (0..<n).map { _ in Float(1e-4 * (1.1 + rng.symmetric())) })
            }
        }
        try w.commit()
    }
}

extension TestCheckpoints {
    /// Copies checkpoint `src` to `dst`, passing each tensor's values through `edit` (key, values)
    /// and the metadata through `meta`. Parameters keep their stored dtype (bf16 re-rounded).
    static func rewrite(
        _ src: String, to dst: String, meta: (inout CheckpointMetadata) -> Void = { _ in },
        edit: (TensorKey, inout [Float]) -> Void = { _, _ in }
    ) throws {
        let r = try CheckpointReader(path: src)
        let w = try CheckpointWriter(path: dst, options: WriterOptions(codec: .none, threads: 1))
        var m = r.metadata
        meta(&m)
        w.metadata = m
        for info in r.tensors {
            var v = try r.readFloats(info.key)
            edit(info.key, &v)
            if info.dtype == .bfloat16 {
                let bits = v.map { HalfPrecision.bf16Bits(from: $0) }
                try bits.withUnsafeBytes { try w.write(info.key, dtype: .bfloat16, shape: info.shape, bytes: $0) }
            } else {
                try w.write(info.key, shape: info.shape, floats: v)
            }
        }
        try w.commit()
    }
}
