import CChunkKernels

/// HDF5's Fletcher32 checksum (filter id 3), bit-compatible with `H5_checksum_fletcher32`.
///
/// The data is read as big-endian 16-bit words; `sum1` accumulates words and `sum2` accumulates
/// `sum1`, both folded (`(x & 0xffff) + (x >> 16)`) after every block of 360 words; an odd
/// trailing byte counts as the high byte of a last word. The filter stores the result as four
/// little-endian bytes after the chunk. Blocks are summed in C (`ckpt_fletcher32`, AVX2 where
/// available) using the identity `sum2 += n*sum1 + Σ (n-i) w_i` (wrapping 32-bit arithmetic, as
/// HDF5's C code).
enum Fletcher32 {
    /// Computes the checksum of `data` (the AVX2 kernel of `CChunkKernels` where the CPU has it).
    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = data.baseAddress, data.count > 0 else { return 0 }
        return ckpt_fletcher32(base, data.count)
    }

    /// The checksum computed by one build of the kernel: 0 the baseline, 1 AVX2; nil when this
    /// CPU lacks the instructions. For tests.
    static func checksum(_ data: UnsafeRawBufferPointer, variant: Int32) -> UInt32? {
        var result: UInt32 = 0
        guard ckpt_fletcher32_variant(variant, data.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, data.count, &result) != 0 else { return nil }
        return result
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
