import CheckpointStore
import Foundation

/// Rotary position embedding of q and k in place, the convention of transformers'
/// `LlamaRotaryEmbedding` / `GPTNeoXRotaryEmbedding` (`apply_rotary_pos_emb` with
/// `rotate_half`) and megatron-core: in each head the first `dimensions` dimensions are
/// rotated, dimension j paired with j + dimensions/2 ([first half | second half], no
/// interleaving), the rest pass through. Row i of a `[B·T, heads·hd]` buffer is at position
/// i mod T; the angle of pair j at position p is p·f[j], f[j] = θ^(−2j/dimensions) changed
/// by `model_config.rope_scaling` when set (`ModelConfig.ropeInverseFrequencies`).
struct RotaryKernel<T: ReferenceScalar> {
    /// T, positions per sequence.
    let seq: Int
    /// hd.
    let headDim: Int
    /// Rotated dimensions per head (even, ≤ hd).
    let dimensions: Int
    /// cos and sin of each (position, pair), `[seq, dimensions/2]`.
    let cos, sin: ScalarBuffer<T>

    /// Tables for positions 0..<seq, the frequencies those of base `theta` changed by
    /// `scaling` (`RotaryFrequencies`). In Float the frequencies and angles are computed as
    /// transformers does in float32 (`p·inv_freq` rounded to float32) and cos/sin rounded from
    /// Float64; in Double everything is Float64.
    init(seq: Int, headDim: Int, dimensions: Int, theta: Double, scaling: RopeScaling? = nil) {
        self.seq = seq
        self.headDim = headDim
        self.dimensions = dimensions
        let half = dimensions / 2
        cos = ScalarBuffer(count: seq * half)
        sin = ScalarBuffer(count: seq * half)
        let single = T.self == Float.self
        let f32 = single ? RotaryFrequencies.float32(dimensions: dimensions, theta: theta, scaling: scaling) : []
        let f64 = single ? [] : ModelConfig.ropeInverseFrequencies(dimensions: dimensions, theta: theta, scaling: scaling)
        for j in 0..<half {
            for p in 0..<seq {
                let angle = single ? Double(Float(p) * f32[j]) : Double(p) * f64[j]
                cos[p * half + j] = T(Foundation.cos(angle))
                sin[p * half + j] = T(Foundation.sin(angle))
            }
        }
    }

    /// Rotates the first `dimensions` of each of `heads` heads in every one of `rows` rows of
    /// `x` (`[rows, heads·hd]`) by its position's angles: x₁' = x₁cos − x₂sin,
    /// x₂' = x₂cos + x₁sin (transformers' `q·cos + rotate_half(q)·sin`).
    func rotate(_ x: UnsafeMutablePointer<T>, rows: Int, heads: Int) { apply(x, rows: rows, heads: heads, inverse: false) }

    /// The backward of `rotate` (its transpose, the rotation by the negative angles), in place
    /// on a gradient: g₁ = g₁'cos + g₂'sin, g₂ = g₂'cos − g₁'sin.
    func rotateBack(_ g: UnsafeMutablePointer<T>, rows: Int, heads: Int) { apply(g, rows: rows, heads: heads, inverse: true) }

    private func apply(_ x: UnsafeMutablePointer<T>, rows: Int, heads: Int, inverse: Bool) {
        let xp = SharedPointer(x), cp = SharedPointer(cos.pointer), sp = SharedPointer(sin.pointer)
        let (half, t, hd, stride) = (dimensions / 2, seq, headDim, heads * headDim)
        // Iterations write disjoint rows.
        Parallel.forRanges(rows, grain: 16) { r in
            for i in r {
                let c = cp.p + (i % t) * half, s = sp.p + (i % t) * half
                for h in 0..<heads {
                    let a = xp.p + i * stride + h * hd, b = a + half
                    if inverse {
                        for j in 0..<half {
                            let x1 = a[j], x2 = b[j]
                            a[j] = x1 * c[j] + x2 * s[j]
                            b[j] = x2 * c[j] - x1 * s[j]
                        }
                    } else {
                        for j in 0..<half {
                            let x1 = a[j], x2 = b[j]
                            a[j] = x1 * c[j] - x2 * s[j]
                            b[j] = x2 * c[j] + x1 * s[j]
                        }
                    }
                }
            }
        }
    }
}
