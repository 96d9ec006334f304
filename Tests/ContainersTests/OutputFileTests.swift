import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `OutputFile` writes every byte where its position says, whether it stages them for
/// `O_DIRECT` (whole aligned buffers, the partial last block through the page cache) or gathers
/// them buffered; writes after a `sync` keep going, buffered.
@Suite struct OutputFileTests {
    /// Deterministic bytes, different in every position of a block.
    static func bytes(_ n: Int, seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7 &+ seed) } }

    @Test(arguments: [
        [10, 5_000, 1 << 20, 3 << 20, 7, 4096, 65_536, 1],  // small and large, crossing staging buffers
        [2 << 20],  // exactly one staging buffer
        [(2 << 20) + 1, 4095],
        [0, 1, 0],
    ])
    func everyByteLandsAtItsPosition(sizes: [Int]) throws {
        let dir = TestDirectory()
        let p = dir.file("out.bin")
        let f = try OutputFile(creating: p)
        var expected: [UInt8] = []
        for (k, n) in sizes.enumerated() {
            let b = Self.bytes(n, seed: k)
            try f.write(b)
            expected += b
            #expect(f.position == expected.count)
        }
        try f.sync()
        // Bytes written after a sync go on, buffered, from where the file ends.
        let more = Self.bytes(3 << 20, seed: 99)
        try f.write(more)
        expected += more
        #expect(!f.isDirect)
        try f.close()
        let got = [UInt8](FileManager.default.contents(atPath: p) ?? Data())
        #expect(got.count == expected.count)
        #expect(got == expected)
    }

    @Test func largeFilesGoDirectWhereTheFilesystemTakesIt() throws {
        let dir = TestDirectory()
        let p = dir.file("out.bin")
        let f = try OutputFile(creating: p)
        // Where O_DIRECT opens (and DirectIO is on) the file starts in direct mode.
        let probe = open(dir.file("probe"), O_WRONLY | O_CREAT | 0o40000, 0o644)
        if probe >= 0 { close(probe) }
        #expect(f.isDirect == (DirectIO.enabled && probe >= 0))
        let b = Self.bytes(5 << 20 + 333, seed: 3)
        try f.write(b)
        try f.close()
        #expect([UInt8](FileManager.default.contents(atPath: p) ?? Data()) == b)
    }

    @Test func aRefusedDirectWriteFallsBackWithoutLosingBytes() throws {
        // A staging size that is not a whole number of blocks: the kernel refuses the first
        // direct write (EINVAL), and that buffer and everything after it go buffered.
        let dir = TestDirectory()
        let p = dir.file("out.bin")
        let f = try OutputFile(creating: p, stagingBytes: 5000)
        let startedDirect = f.isDirect
        var expected: [UInt8] = []
        for (k, n) in [3000, 4000, 12_345, 1].enumerated() {
            let b = Self.bytes(n, seed: k)
            try f.write(b)
            expected += b
        }
        if startedDirect { #expect(!f.isDirect) }
        try f.close()
        #expect([UInt8](FileManager.default.contents(atPath: p) ?? Data()) == expected)
    }
}
