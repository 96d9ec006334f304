import Glibc

/// Synthetic float tensors of the kinds a training checkpoint holds, for `CodecBenchmark` and
/// the codec's tests: deterministic (SplitMix64 + Box-Muller), laid out as rows of 2048 elements.
public enum CodecDataSet: String, CaseIterable, Sendable {
    /// float32 weights, N(0, 0.02).
    case fp32Normal = "fp32-normal"
    /// bfloat16 weights, N(0, 0.02) rounded to nearest.
    case bf16Normal = "bf16-normal"
    /// float32 Adam first moment: each row N(0, s²) with s log-uniform in 1e-6...1e-3.
    case expAvg = "exp-avg"
    /// float32 Adam second moment: each row s² times the mean of four squared N(0, 1) draws (an
    /// EMA of g² over a few steps), s log-uniform in 1e-6...1e-3: rows share exponents, where
    /// LZ finds matches.
    case expAvgSq = "exp-avg-sq"
    /// float32 `ckpt synth`'s exp_avg_sq: the square of N(0, 1e-4), plus 1e-12.
    case synthExpAvgSq = "synth-exp-avg-sq"

    /// Elements per row.
    public static let rowElements = 2048

    /// The element type.
    public var dtype: DType { self == .bf16Normal ? .bfloat16 : .float32 }

    /// The first `elements` elements as little-endian bytes.
    public func bytes(elements: Int, seed: UInt64 = 1) -> [UInt8] {
        var rng = SplitMix64(seed: SplitMix64.mix(seed ^ UInt64(rawValue.utf8.count) &* 0x9E37_79B9_7F4A_7C15))
        func normal() -> Float {
            let r = rng.next()
            let u1 = (Float(r >> 40) + 1) * (1.0 / 16_777_216.0)
            let u2 = Float(r & 0xff_ffff) * (1.0 / 16_777_216.0)
            return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
        }
        var rowScale: Float = 0
        let size = dtype.size
        return [UInt8](unsafeUninitializedCapacity: elements * size) { buf, count in
            for i in 0..<elements {
                if i % Self.rowElements == 0 {
                    rowScale = powf(10, -6 + 3 * Float(rng.next() >> 40) / 16_777_216.0)
                }
                let v: Float
                switch self {
                case .fp32Normal, .bf16Normal: v = 0.02 * normal()
                case .expAvg: v = rowScale * normal()
                case .expAvgSq:
                    var a: Float = 0
                    for _ in 0..<4 {
                        let g = normal()
                        a += g * g
                    }
                    v = rowScale * rowScale * a / 4
                case .synthExpAvgSq:
                    let z = 1e-4 * normal()
                    v = z * z + 1e-12
                }
                if size == 2 {
                    let h = HalfPrecision.bf16Bits(from: v)
                    buf[2 * i] = UInt8(truncatingIfNeeded: h)
                    buf[2 * i + 1] = UInt8(truncatingIfNeeded: h >> 8)
                } else {
                    let b = v.bitPattern
                    for k in 0..<4 { buf[4 * i + k] = UInt8(truncatingIfNeeded: b >> (8 * UInt32(k))) }
                }
            }
            count = elements * size
        }
    }
}
