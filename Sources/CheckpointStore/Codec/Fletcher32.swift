/// HDF5's Fletcher32 checksum (filter id 3), bit-compatible with `H5_checksum_fletcher32`.
///
/// The data is read as big-endian 16-bit words; `sum1` accumulates words and `sum2` accumulates
/// `sum1`, both folded (`(x & 0xffff) + (x >> 16)`) after every block of 360 words; an odd
/// trailing byte counts as the high byte of a last word. The filter stores the result as four
/// little-endian bytes after the chunk. Blocks are summed with SIMD using the identity
/// `sum2 += n*sum1 + Σ (n-i) w_i` (wrapping 32-bit arithmetic, as HDF5's C code).
enum Fletcher32 {
    /// Computes the checksum of `data`.
    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var sum1: UInt32 = 0, sum2: UInt32 = 0
        let words = data.count / 2
        guard let base = data.baseAddress else { return 0 }
        var w = 0
        while w < words {
            let n = min(360, words - w)
            let p = base + 2 * w
            var s: UInt32 = 0, t: UInt32 = 0
            var i = 0
            if n == 360 {
                // 45 vectors of 8 words; weights 360, 359, ... for word 0, 1, ...
                var vs = SIMD8<UInt32>(repeating: 0), vt = SIMD8<UInt32>(repeating: 0)
                var weight = SIMD8<UInt32>(360, 359, 358, 357, 356, 355, 354, 353)
                let eight = SIMD8<UInt32>(repeating: 8)
                while i < 360 {
                    let raw = p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
                    let be = SIMD8<UInt32>(truncatingIfNeeded: (raw &<< 8) | (raw &>> 8))
                    vs &+= be
                    vt &+= be &* weight
                    weight &-= eight
                    i += 8
                }
                s = vs.wrappedSum()
                t = vt.wrappedSum()
            } else {
                while i < n {
                    let word =
                        UInt32(p.load(fromByteOffset: 2 * i, as: UInt8.self)) << 8
                        | UInt32(p.load(fromByteOffset: 2 * i + 1, as: UInt8.self))
                    s &+= word
                    t &+= word &* UInt32(n - i)
                    i += 1
                }
            }
            sum2 = sum2 &+ UInt32(truncatingIfNeeded: n) &* sum1 &+ t
            sum1 = sum1 &+ s
            sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
            sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
            w += n
        }
        if data.count % 2 == 1 {
            sum1 &+= UInt32(data[data.count - 1]) << 8
            sum2 &+= sum1
            sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
            sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
        }
        sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
        sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
        return (sum2 << 16) | sum1
    }

    /// The reference scalar loop, word by word, as HDF5 writes it; used by tests.
    static func referenceChecksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var sum1: UInt32 = 0, sum2: UInt32 = 0
        var len = data.count / 2
        var idx = 0
        while len > 0 {
            var tlen = min(360, len)
            len -= tlen
            repeat {
                sum1 &+= (UInt32(data[idx]) << 8) | UInt32(data[idx + 1])
                idx += 2
                sum2 &+= sum1
                tlen -= 1
            } while tlen > 0
            sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
            sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
        }
        if data.count % 2 == 1 {
            sum1 &+= UInt32(data[idx]) << 8
            sum2 &+= sum1
            sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
            sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
        }
        sum1 = (sum1 & 0xffff) &+ (sum1 >> 16)
        sum2 = (sum2 & 0xffff) &+ (sum2 >> 16)
        return (sum2 << 16) | sum1
    }
}
