/// Conversions between Float and the 16-bit float formats the store keeps.
public enum HalfPrecision {
    /// The bfloat16 bit pattern nearest to `x` (round to nearest, ties to even; NaN stays NaN).
    @inlinable
    public static func bf16Bits(from x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (b >> 16) | 0x40) }
        let rounding = UInt32(0x7fff) + ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
    }

    /// The Float whose value equals the bfloat16 bit pattern `bits` (exact).
    @inlinable
    public static func float(fromBF16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The IEEE half bit pattern nearest to `x`.
    @inlinable
    public static func f16Bits(from x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// The Float whose value equals the IEEE half bit pattern `bits` (exact).
    @inlinable
    public static func float(fromF16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}
