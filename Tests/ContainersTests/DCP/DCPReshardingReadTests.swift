import CheckpointStore
import Testing

@testable import Containers

/// The resharding read: any box of a DCP tensor, crossing chunk boundaries in any dimension,
/// equals the same slice of the whole tensor.
@Suite(.enabled(if: DCPFixtures.available, "Tests/Fixtures/interop/dcp-* are not in this checkout"))
struct DCPReshardingReadTests {
    /// `box` cut out of the whole tensor's bytes (an independent path: StridedCopy over the
    /// dense whole).
    static func slice(_ whole: [UInt8], shape: [Int], box: TensorBox, elementSize: Int) -> [UInt8] {
        var strides = Array(repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        var out = [UInt8](repeating: 0, count: box.count * elementSize)
        whole.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                StridedCopy.copy(from: src.baseAddress!, elementSize: elementSize, offset: 0, shape: shape, strides: strides, box: box, into: dst.baseAddress!)
            }
        }
        return out
    }

    static func read(_ c: DCPCheckpoint, _ key: TensorKey, _ box: TensorBox, _ es: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: box.count * es)
        try out.withUnsafeMutableBytes { try c.read(key, box: box, into: $0) }
        return out
    }

    @Test(arguments: DCPFixtures.names)
    func boxesAcrossChunkBoundariesEqualTheWholeSlice(name: String) throws {
        let c = try DCPCheckpoint(path: DCPFixtures.path(name))
        var rng = SystemRandomNumberGenerator()
        var crossing = 0
        for t in c.tensors {
            let whole = try c.readAll(t.key)
            let entry = try #require(c.entry(t.key.name))
            for _ in 0..<12 {
                var o: [Int] = [], s: [Int] = []
                for n in t.shape {
                    let a = Int.random(in: 0..<n, using: &rng), b = Int.random(in: a..<n, using: &rng)
                    o.append(a)
                    s.append(b - a + 1)
                }
                let box = TensorBox(offsets: o, sizes: s)
                if entry.chunks.filter({ DCPCheckpoint.intersection($0.box, box) != nil }).count > 1 { crossing += 1 }
                #expect(
                    try Self.read(c, t.key, box, t.dtype.size) == Self.slice(whole, shape: t.shape, box: box, elementSize: t.dtype.size), "\(t.key.name) \(box)"
                )
            }
        }
        #expect(crossing > 20)
    }

    @Test func aColumnStripAcrossTheTwoColumnChunks() throws {
        let c = try DCPCheckpoint(path: DCPFixtures.path("dcp-state-dict"))
        let key = TensorKey.model("transformer.h.1.mlp.c_fc.weight")  // [32, 128], Shard(1): columns 0..<64 and 64..<128
        let t = try #require(c.describe(key))
        let whole = try c.readAll(key)
        for box in [
            TensorBox(offsets: [3, 60], sizes: [7, 8]), TensorBox(offsets: [0, 63], sizes: [32, 2]), TensorBox(offsets: [31, 0], sizes: [1, 128]),
            TensorBox(offsets: [5, 64], sizes: [0, 3]),
        ] {
            #expect(try Self.read(c, key, box, 4) == Self.slice(whole, shape: t.shape, box: box, elementSize: 4), "\(box)")
        }
        #expect(throws: ContainerError.badTensor(path: c.path, tensor: key.name, detail: "box [0:33, 0:1] lies outside the shape [32, 128]")) {
            _ = try Self.read(c, key, TensorBox(offsets: [0, 0], sizes: [33, 1]), 4)
        }
    }

    @Test func largeScatteredPiecesGoThroughBoundedScratch() throws {
        // A box whose chunk parts are not contiguous in the output and span more than the
        // scratch bound (here 64 bytes) is split; the result is the same.
        let c = try DCPCheckpoint(path: DCPFixtures.path("dcp-state-dict"), limits: DCPLimits(maxScratchBytes: 64))
        let key = TensorKey.model("transformer.h.0.attn.c_attn.weight")
        let whole = try c.readAll(key)
        let box = TensorBox(offsets: [1, 40], sizes: [30, 50])
        #expect(try Self.read(c, key, box, 4) == Self.slice(whole, shape: [32, 96], box: box, elementSize: 4))
    }

    @Test func scatterPlacesABlockInsideALargerBox() {
        // outer [3, 4, 5], block [2, 2, 3] at [1, 1, 2]: elements numbered independently.
        let outer = [3, 4, 5], sizes = [2, 2, 3], at = [1, 1, 2]
        var out = [Int32](repeating: -1, count: 60)
        let block = (0..<12).map { Int32($0) }
        block.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { DCPScatter.copy(from: src.baseAddress!, sizes: sizes, into: $0.baseAddress!, outer: outer, at: at, elementSize: 4) }
        }
        var want = [Int32](repeating: -1, count: 60)
        var n: Int32 = 0
        for i in 0..<2 {
            for j in 0..<2 {
                for k in 0..<3 {
                    want[(at[0] + i) * 20 + (at[1] + j) * 5 + at[2] + k] = n
                    n += 1
                }
            }
        }
        #expect(out == want)
    }
}
