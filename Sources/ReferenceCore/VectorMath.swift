/// Single-precision transcendental functions on 8 lanes at a time, for the elementwise passes
/// of the fp32 step (GELU, softmax, cross-entropy) without a libm call per element.
///
/// `exp` is the Cephes `expf` scheme: n = round(x·log₂e) (by the 1.5·2²³ shift), r = x − n·ln2 in two parts (exact
/// high part), a degree-6 polynomial for eʳ and 2ⁿ built in the exponent bits; inputs are
/// clamped to [−87.3, 88.3] (results stay normal and finite). Relative error below 2·10⁻⁷
/// (about 2 ulp). `tanh` is 1 − 2/(e^{2x} + 1) with |x| clamped to 9 (tanh = ±1 in fp32 there).
enum VectorMath {
    /// Lanes per vector.
    static let width = 8
    /// A vector of lanes.
    typealias Vector = SIMD8<Float>

    /// eˣ per lane.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        let clamped = clamp(x, -87.3, 88.3)
        // Adding 1.5·2²³ rounds to the nearest integer n and leaves n in the low mantissa bits.
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let er = p * (r * r) + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return er * unsafeBitCast(bits, to: Vector.self)
    }

    /// tanh(x) per lane.
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector {
        let c = clamp(x, -9, 9)
        let e = exp(c + c)
        return 1 - 2 / (e + 1)
    }

    /// Each lane limited to [lo, hi] (NaN lanes stay NaN), branch-free compare-and-select
    /// (the generic `pointwiseMin`/`pointwiseMax` are not inlined and run lane by lane).
    @inline(__always)
    static func clamp(_ x: Vector, _ lo: Float, _ hi: Float) -> Vector {
        let h = Vector(repeating: hi), l = Vector(repeating: lo)
        return x.replacing(with: h, where: x .> h).replacing(with: l, where: x .< l)
    }

    /// Loads `count` (≤ 8) lanes from `p`, padding with `fill`.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int, fill: Float = 0) -> Vector {
        if count == width { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
        var v = Vector(repeating: fill)
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` (≤ 8) lanes of `v` to `p`.
    @inline(__always)
    static func store(_ v: Vector, to p: UnsafeMutablePointer<Float>, count: Int) {
        if count == width {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
            return
        }
        for i in 0..<count { p[i] = v[i] }
    }
}
