import Foundation
import Testing

@testable import CheckpointStore

/// hdf5plugin's LZ4 chunk format (filter 32004): round trips, and chunks that lie about their
/// sizes refused with one line, never read or written past a buffer.
@Suite struct LZ4ChunkTests {
    func encode(_ raw: [UInt8], block: Int = LZ4Chunk.defaultBlockSize) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: LZ4Chunk.capacity(rawBytes: raw.count, blockSize: block))
        let n = raw.withUnsafeBytes { r in
            out.withUnsafeMutableBytes { LZ4Chunk.encode(r.baseAddress!, count: raw.count, blockSize: block, into: $0.baseAddress!, capacity: $0.count) }
        }
        return Array(out[0..<(n ?? 0)])
    }

    func decode(_ chunk: [UInt8], capacity: Int) -> Result<[UInt8], LZ4Chunk.Failure> {
        var out = [UInt8](repeating: 0, count: max(capacity, 1))
        let r = chunk.withUnsafeBytes { c in
            out.withUnsafeMutableBytes { LZ4Chunk.decode(c.baseAddress!, count: chunk.count, into: $0.baseAddress!, capacity: capacity) }
        }
        return r.map { Array(out[0..<$0]) }
    }

    @Test(arguments: [1, 7, 4096, LZ4Chunk.defaultBlockSize])
    func roundTripsInBlocks(block: Int) throws {
        let blocks = block
        let ramp = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        var state: UInt64 = 7
        let noise: [UInt8] = (0..<3_000).map { _ in
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
        for raw in [ramp, noise, [], [42]] {
            let c = encode(raw, block: block)
            #expect(try decode(c, capacity: raw.count).get() == raw)
        }
        // Compressible data is compressed, incompressible stored raw (block size equal to its size).
        #expect(encode(ramp).count < ramp.count / 4)
        if blocks >= noise.count { #expect(encode(noise, block: blocks).count == noise.count + 16) }  // header, stored size, raw bytes
    }

    func lie(_ chunk: [UInt8], at offset: Int, _ value: UInt64, bytes: Int) -> [UInt8] {
        var c = chunk
        for k in 0..<bytes { c[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(bytes - 1 - k))) }
        return c
    }

    @Test func liesAboutSizesAreOneLineErrors() throws {
        let raw = (0..<2_000).map { UInt8(truncatingIfNeeded: $0 % 13) }
        let good = encode(raw, block: 512)
        let cases: [([UInt8], Int, String)] = [
            (Array(good[0..<7]), raw.count, "shorter than its 12-byte header"),
            (lie(good, at: 0, 1 << 40, bytes: 8), raw.count, "declares 1099511627776 decoded bytes"),
            (lie(good, at: 8, 0, bytes: 4), raw.count, "block size of 0"),
            (lie(good, at: 12, 1 << 30, bytes: 4), raw.count, "claims 1073741824 stored bytes"),
            (lie(good, at: 12, 5, bytes: 4), raw.count, "LZ4 block 0"),
            (Array(good[0..<(good.count - 3)]), raw.count, "LZ4 block"),
            (good + [0, 0], raw.count, "bytes after its last block"),
            (lie(good, at: 0, UInt64(raw.count + 512), bytes: 8), raw.count + 512, "LZ4 block 3 decodes to 464 bytes"),
        ]
        for (chunk, capacity, want) in cases {
            switch decode(chunk, capacity: capacity) {
            case .success: Issue.record("accepted a chunk that should fail with \(want)")
            case .failure(let f):
                #expect(f.description.contains(want), "\(f.description)")
                #expect(!f.description.contains("\n"))
            }
        }
    }
}
