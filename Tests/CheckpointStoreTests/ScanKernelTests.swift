import CChunkKernels
import Testing

@testable import CheckpointStore

/// The C scan kernels (`CChunkKernels`): each build (baseline, AVX2) against the word-by-word
/// reference loop and a plain count.
@Suite struct ScanKernelTests {
    /// Lengths around the 360-word block and the 16-word vector, at misaligned starts, with
    /// random, all-0xFF (the sums' largest words) and all-zero bytes.
    @Test(arguments: [0, 1, 2, 31, 32, 33, 718, 719, 720, 721, 1439, 1440, 1441, 7201, 65_537, 4 << 20])
    func fletcherBuildsMatchReference(length: Int) throws {
        let pool = randomBytes(length + 64, seed: UInt64(length) &* 3 &+ 1)
        for fill in [nil, UInt8(0xff), UInt8(0)] as [UInt8?] {
            var data = pool
            if let fill { data = [UInt8](repeating: fill, count: pool.count) }
            for start in [0, 1, 3, 17] {
                data.withUnsafeBytes { all in
                    let b = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let expected = Fletcher32.referenceChecksum(b)
                    #expect(Fletcher32.checksum(b, variant: 0) == expected, "baseline, length \(length) start \(start)")
                    if let avx2 = Fletcher32.checksum(b, variant: 1) {
                        #expect(avx2 == expected, "AVX2, length \(length) start \(start) fill \(String(describing: fill))")
                    }
                    #expect(Fletcher32.checksum(b) == expected)
                }
            }
        }
    }

    /// A single flipped bit anywhere in a full block changes the checksum (each word position
    /// carries its own weight).
    @Test func fletcherSeesEveryWordPosition() {
        var data = randomBytes(720 * 3, seed: 99)
        let base = data.withUnsafeBytes { Fletcher32.checksum($0) }
        for byte in stride(from: 0, to: data.count, by: 37) {
            data[byte] ^= 0x10
            let v = data.withUnsafeBytes { Fletcher32.checksum($0) }
            #expect(v != base, "flip at byte \(byte)")
            #expect(v == data.withUnsafeBytes { Fletcher32.referenceChecksum($0) })
            data[byte] ^= 0x10
        }
    }

    @Test func nonFiniteCountsEveryFloatKind() {
        var f32 = (0..<1003).map { Float($0) * 0.5 - 7 }
        f32[0] = .nan
        f32[500] = .infinity
        f32[1002] = -.infinity
        f32[7] = .greatestFiniteMagnitude
        #expect(f32.withUnsafeBytes { CheckpointVerifier.countNonFinite($0, .float32) } == 3)
        var f64 = (0..<77).map { Double($0) }
        f64[76] = .nan
        f64[3] = -.infinity
        #expect(f64.withUnsafeBytes { CheckpointVerifier.countNonFinite($0, .float64) } == 2)
        // bf16 and fp16 as raw words: exponent all ones is NaN/Inf, 0x7f7f / 0x7bff the largest finite.
        var bf16 = [UInt16](repeating: 0x3f80, count: 129)
        bf16[1] = 0x7fc0
        bf16[2] = 0xff80
        bf16[3] = 0x7f7f
        #expect(bf16.withUnsafeBytes { CheckpointVerifier.countNonFinite($0, .bfloat16) } == 2)
        var f16 = [UInt16](repeating: 0x3c00, count: 65)
        f16[64] = 0x7c00
        f16[10] = 0x7bff
        #expect(f16.withUnsafeBytes { CheckpointVerifier.countNonFinite($0, .float16) } == 1)
        // Misaligned start: the loop reads unaligned words.
        let bytes = f32.withUnsafeBytes { [UInt8]($0) } + [0, 0, 0]
        var shifted = [UInt8](repeating: 0, count: 1)
        shifted += bytes
        #expect(shifted.withUnsafeBytes { CheckpointVerifier.countNonFinite(UnsafeRawBufferPointer(rebasing: $0[1..<(1 + 4 * 1003)]), .float32) } == 3)
        #expect([Int32](repeating: -1, count: 9).withUnsafeBytes { CheckpointVerifier.countNonFinite($0, .int32) } == 0)
    }

    /// Both builds of the 2- and 4-byte shuffles against the definition, for counts around the
    /// 32-element vector step, from a misaligned source.
    @Test(arguments: [2, 4])
    func shuffleBuildsMatchDefinition(size: Int) {
        for n in [0, 1, 31, 32, 33, 63, 64, 65, 1000, 4099] {
            let src = randomBytes(n * size + 1, seed: UInt64(n * 7 + size))
            var planes = [UInt8](repeating: 0, count: n * size)
            for i in 0..<n { for b in 0..<size { planes[b * n + i] = src[1 + i * size + b] } }
            for variant: Int32 in [0, 1] {
                var out = [UInt8](repeating: 0xaa, count: n * size)
                let ran = src.withUnsafeBytes { s in
                    out.withUnsafeMutableBytes { ckpt_shuffle_variant(variant, Int32(size), 1, s.baseAddress! + 1, $0.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 64)!, n) }
                }
                if ran == 0 { continue }
                #expect(out == planes, "shuffle size \(size) n \(n) variant \(variant)")
                var back = [UInt8](repeating: 0x55, count: n * size)
                planes.withUnsafeBytes { p in
                    back.withUnsafeMutableBytes { _ = ckpt_shuffle_variant(variant, Int32(size), 0, p.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!, $0.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 64)!, n) }
                }
                #expect(back[...] == src[1...], "unshuffle size \(size) n \(n) variant \(variant)")
            }
        }
    }
}
