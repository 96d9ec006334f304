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
