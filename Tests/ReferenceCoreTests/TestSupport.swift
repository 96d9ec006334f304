import CheckpointStore
import Foundation

@testable import ReferenceCore

/// Deterministic SplitMix64 numbers for test data.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func symmetric() -> Double { Double(next() >> 11) / Double(1 << 52) - 1 }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

enum TestModels {
    /// A tiny GPT-2 configuration.
    static func tiny(tied: Bool = true, activation: String = "gelu_tanh", bias: Bool = true, kvHeads: Int? = nil) -> ModelConfig {
        ModelConfig(
            family: "gpt2", layers: 2, hidden: 8, heads: 2, kvHeads: kvHeads, ffn: 12, vocab: 11, maxSeq: 6,
            normEps: 1e-5, activation: activation, tieEmbeddings: tied, bias: bias)
    }

    /// Parameters with values of order `scale` (norm weights around 1).
    static func parameters<T: ReferenceScalar>(_ config: ModelConfig, seed: UInt64, scale: Double = 0.3, as: T.Type = T.self) -> TensorBuffers<T> {
        var rng = SplitMix(seed)
        let p = TensorBuffers<T>(tensors: config.canonicalTensors())
        for name in p.names {
            let b = p[name]!
            let isNormWeight = name.hasSuffix("norm.weight")
            for i in 0..<b.count {
                b[i] = T((isNormWeight ? 1 : 0) + scale * rng.symmetric())
            }
        }
        return p
    }

    /// A batch of random tokens; positions listed in `ignored` get target -1.
    static func batch(_ config: ModelConfig, b: Int, t: Int, seed: UInt64, ignored: Set<Int> = []) -> TokenBatch {
        var rng = SplitMix(seed)
        let n = b * t
        let inputs = (0..<n).map { _ in Int32(rng.int(config.vocab)) }
        let targets = (0..<n).map { i in ignored.contains(i) ? Int32(-1) : Int32(rng.int(config.vocab)) }
        return TokenBatch(batchSize: b, sequenceLength: t, inputs: inputs, targets: targets)
    }

    /// ‖a − b‖ / ‖b‖ in Float64.
    static func relativeL2<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: [A], _ b: [B]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) {
            let d = Double(x) - Double(y)
            num += d * d
            den += Double(y) * Double(y)
        }
        return den == 0 ? num.squareRoot() : (num / den).squareRoot()
    }

    /// A fresh temporary directory for one test.
    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("refcore-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
