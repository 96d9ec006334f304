/// Python integers of any size as pickle stores them: little-endian two's complement (LONG1,
/// LONG4) or decimal text (INT, LONG).
enum PickleIntegers {
    /// `.int` when the value fits 64 bits, else `.bigInt` with the shortest two's complement bytes.
    static func value(twosComplement raw: [UInt8]) -> PickleValue {
        let b = minimal(raw)
        if b.count <= 8 {
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            if let last = b.last, last & 0x80 != 0, b.count < 8 {
                v |= UInt64.max << (8 * UInt64(b.count))  // sign-extend
            }
            return .int(Int64(bitPattern: v))
        }
        return .bigInt(b)
    }

    /// Drops redundant sign bytes (0x00 above a clear top bit, 0xFF above a set one).
    static func minimal(_ raw: [UInt8]) -> [UInt8] {
        var n = raw.count
        while n > 1 {
            let top = raw[n - 1], below = raw[n - 2]
            if (top == 0 && below & 0x80 == 0) || (top == 0xFF && below & 0x80 != 0) { n -= 1 } else { break }
        }
        if n == 1 && raw[0] == 0 { return [] }
        return Array(raw[0..<n])
    }

    /// The shortest two's complement bytes of `v` (empty for 0, as Python's LONG1 writes it).
    static func bytes(_ v: Int64) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(i)))) }
        return minimal(out)
    }

    /// A decimal integer (optional sign, digits only) as two's complement bytes; nil when the
    /// text is not one. The caller bounds the digit count (the conversion is quadratic).
    static func parseDecimal(_ text: ArraySlice<UInt8>) -> PickleValue? {
        var digits = text[...]
        var negative = false
        if let f = digits.first, f == 0x2B || f == 0x2D {
            negative = f == 0x2D
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        // Magnitude as little-endian base-256 digits.
        var mag: [UInt8] = [0]
        for d in digits {
            var carry = Int(d - 0x30)
            for i in mag.indices {
                let x = Int(mag[i]) * 10 + carry
                mag[i] = UInt8(x & 0xFF)
                carry = x >> 8
            }
            while carry > 0 {
                mag.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        mag.append(0)  // room for the sign bit
        if negative {
            var carry = 1
            for i in mag.indices {
                let x = Int(~mag[i]) + carry
                mag[i] = UInt8(x & 0xFF)
                carry = x >> 8
            }
        }
        return value(twosComplement: mag)
    }
}
