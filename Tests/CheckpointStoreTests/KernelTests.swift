import Testing

@testable import CheckpointStore

@Suite struct KernelTests {
    @Test(arguments: [0, 1, 2, 3, 719, 720, 721, 1440, 4097, 100_001])
    func fletcherMatchesReferenceLoop(length: Int) {
        let data = randomBytes(length, seed: UInt64(length) &+ 7)
        data.withUnsafeBytes { b in
            #expect(Fletcher32.checksum(b) == Fletcher32.referenceChecksum(b))
        }
    }

    @Test func fletcherKnownValue() {
        // "abcde" per the Fletcher-32 definition over big-endian 16-bit words as HDF5 computes it:
        // words 0x6162, 0x6364, trailing 0x6500.
        let bytes: [UInt8] = Array("abcde".utf8)
        let v = bytes.withUnsafeBytes { Fletcher32.referenceChecksum($0) }
        var s1: UInt32 = 0, s2: UInt32 = 0
        for w in [0x6162, 0x6364, 0x6500] as [UInt32] { s1 += w; s2 += s1 }
        s1 = (s1 & 0xffff) + (s1 >> 16); s2 = (s2 & 0xffff) + (s2 >> 16)
        s1 = (s1 & 0xffff) + (s1 >> 16); s2 = (s2 & 0xffff) + (s2 >> 16)
        #expect(v == (s2 << 16) | s1)
    }

    @Test(arguments: [1, 2, 4, 8, 3])
    func shuffleMatchesDefinitionAndRoundTrips(elementSize: Int) {
        for count in [0, 1, 7, 64, 1001, 4096 + 3] {
            let src = randomBytes(count, seed: UInt64(count * 31 + elementSize))
            var shuffled = [UInt8](repeating: 0, count: count)
            var back = [UInt8](repeating: 0, count: count)
            src.withUnsafeBytes { s in
                shuffled.withUnsafeMutableBytes { d in
                    ByteShuffle.shuffle(s.baseAddress!, d.baseAddress!, count: count, elementSize: elementSize)
                }
            }
            let n = count / elementSize
            var expected = src
            if n > 1 {
                for b in 0..<elementSize { for i in 0..<n { expected[b * n + i] = src[i * elementSize + b] } }
            }
            #expect(shuffled == expected, "size \(elementSize) count \(count)")
            shuffled.withUnsafeBytes { s in
                back.withUnsafeMutableBytes { d in
                    ByteShuffle.unshuffle(s.baseAddress!, d.baseAddress!, count: count, elementSize: elementSize)
                }
            }
            #expect(back == src)
        }
    }

    @Test func chunkRule() {
        // 4 MiB of float32 = 1,048,576 elements.
        #expect(ChunkLayout(shape: [50257, 768], elementSize: 4, chunkBytes: 4 << 20).chunk == [1365, 768])
        #expect(ChunkLayout(shape: [768], elementSize: 4, chunkBytes: 4 << 20).chunk == [768])
        #expect(ChunkLayout(shape: [3, 2_000_000], elementSize: 4, chunkBytes: 4 << 20).chunk == [1, 1_048_576])
        #expect(ChunkLayout(shape: [4, 5, 3_000_000], elementSize: 2, chunkBytes: 4 << 20).chunk == [1, 1, 2_097_152])
        #expect(ChunkLayout(shape: [2, 3, 4], elementSize: 4, chunkBytes: 40).chunk == [1, 2, 4])
        #expect(ChunkLayout(shape: [2, 3, 4], elementSize: 4, chunkBytes: 40).isFlatContiguous)
        #expect(!ChunkLayout(shape: [64, 64], chunk: [16, 16]).isFlatContiguous)
        #expect(ChunkLayout(shape: [64, 64], chunk: [16, 64]).isFlatContiguous)
    }

    @Test func bf16RoundingIsNearestEven() {
        #expect(HalfPrecision.bf16Bits(from: 1.0) == 0x3f80)
        // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties to even (1.0).
        #expect(HalfPrecision.bf16Bits(from: 1.00390625) == 0x3f80)
        #expect(HalfPrecision.bf16Bits(from: 1.01171875) == 0x3f82)
        #expect(HalfPrecision.float(fromBF16: 0xc000) == -2)
        #expect(HalfPrecision.bf16Bits(from: .nan) & 0x7fc0 == 0x7fc0)
    }
}
