import CZstd
import Foundation
import Testing

@testable import CheckpointStore

/// The literal-only zstd frames of `zstd:1` float chunks (`formats/checkpoint-v1.md` 8.3):
/// standard frames any zstd decoder reads, single-segment with their content size, blocks cut
/// at byte-plane boundaries, no sequences; the fallback to LZ; the per-dataset selection rule.
@Suite struct LiteralZstdFrameTests {
    /// Encodes `raw` (data in its first `valid` bytes) with `encoder` (Fletcher32 off) and
    /// returns the frame.
    func encode(_ raw: [UInt8], valid: Int? = nil, _ encoder: ChunkEncoder) throws -> [UInt8] {
        var e = encoder
        e.fletcher32 = false
        return try #require(encodeChunk(raw, valid: valid, e))
    }

    /// The byte-shuffled form of `raw`, as HDF5's filter 2 makes it.
    func shuffled(_ raw: [UInt8], _ size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: raw.count)
        raw.withUnsafeBytes { r in out.withUnsafeMutableBytes { ByteShuffle.shuffle(r.baseAddress!, $0.baseAddress!, count: raw.count, elementSize: size) } }
        return out
    }

    /// Decodes with libzstd's one-shot `ZSTD_decompress`, into exactly the declared size.
    func plainDecode(_ frame: [UInt8]) throws -> [UInt8] {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        try #require(size < UInt64.max - 1, "no content size in the frame")
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = frame.withUnsafeBytes { f in out.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, $0.count, f.baseAddress, f.count) } }
        try #require(ZSTD_isError(n) == 0, "\(String(cString: ZSTD_getErrorName(n)))")
        return Array(out.prefix(n))
    }

    /// The block lengths the frame must have: each plane of `n / size` bytes (the tail joining
    /// the last) cut where its zero padding starts (data in the first `valid` bytes of the
    /// unshuffled chunk), then into pieces of at most 128 KiB.
    func expectedBlocks(_ n: Int, _ size: Int, valid: Int? = nil) -> [Int] {
        let m = n / size
        let planes = size <= 1 || m <= 1 ? [n] : (0..<size).map { $0 == size - 1 ? n - $0 * m : m }
        let data = size <= 1 || m <= 1 ? (valid ?? n) : (valid ?? n) / size
        func pieces(_ p: Int) -> [Int] { stride(from: 0, to: p, by: 128 << 10).map { min(128 << 10, p - $0) } }
        return planes.flatMap { pieces(min($0, data)) + pieces($0 - min($0, data)) }
    }

    static let shapes: [(DType, Int)] = [
        (.float32, 1 << 20), (.bfloat16, 1 << 21), (.float16, 3001), (.float64, 40_000), (.float32, 1), (.float32, 70_000), (.bfloat16, 5),
    ]

    @Test(arguments: shapes.indices)
    func framesDecodeToTheInputAndAreSingleSegmentLiteralOnly(index: Int) throws {
        let (dtype, elements) = Self.shapes[index]
        let set: CodecDataSet = dtype == .bfloat16 ? .bf16Normal : .fp32Normal
        var raw = set.bytes(elements: elements * dtype.size / set.dtype.size + 1, seed: UInt64(index))
        raw = Array(raw.prefix(elements * dtype.size))
        var encoder = ChunkEncoder(zstdLevel: 1, elementSize: dtype.size)
        encoder.frames = .literal
        let frame = try encode(raw, encoder)
        #expect(try plainDecode(frame) == shuffled(raw, dtype.size))

        // The header: Frame_Content_Size present and equal to the chunk; single segment, so the
        // window is the content size itself.
        let fcs = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        #expect(fcs == UInt64(raw.count))
        var header = ZSTD_frameHeader()
        let rc = frame.withUnsafeBytes { ZSTD_getFrameHeader(&header, $0.baseAddress, $0.count) }
        #expect(rc == 0)
        #expect(header.frameType == ZSTD_frame)
        #expect(header.frameContentSize == UInt64(raw.count))
        #expect(header.windowSize == UInt64(raw.count), "single-segment frames have window = content size")
        #expect(header.checksumFlag == 0)
        let walk = try ZstdFrameWalker(frame)
        #expect(walk.singleSegment)
        #expect(walk.contentSize == raw.count)
        // Only literals, in blocks of at most 128 KiB cut at the byte planes.
        #expect(walk.isLiteralOnly, "\(dtype) x\(elements): a block holds sequences")
        #expect(walk.blocks.allSatisfy { $0.size <= 128 << 10 })
        #expect(walk.blocks.map(\.regenerated) == expectedBlocks(raw.count, dtype.size), "\(dtype) x\(elements)")
    }

    @Test(arguments: [(DType.float32, 1 << 20, 90_001), (.bfloat16, 1 << 21, 700_000), (.float32, 1000, 999), (.float64, 5000, 1)])
    func edgeChunksCutTheirPaddingIntoBlocksOfItsOwn(dtype: DType, elements: Int, validElements: Int) throws {
        let set: CodecDataSet = dtype == .bfloat16 ? .bf16Normal : .fp32Normal
        let data = set.bytes(elements: validElements * dtype.size / set.dtype.size, seed: 9)
        let raw = data + [UInt8](repeating: 0, count: elements * dtype.size - data.count)
        var encoder = ChunkEncoder(zstdLevel: 1, elementSize: dtype.size)
        encoder.frames = .literal
        let frame = try encode(raw, valid: data.count, encoder)
        #expect(try plainDecode(frame) == shuffled(raw, dtype.size))
        let walk = try ZstdFrameWalker(frame)
        #expect(walk.isLiteralOnly && walk.singleSegment && walk.contentSize == raw.count)
        #expect(walk.blocks.map(\.regenerated) == expectedBlocks(raw.count, dtype.size, valid: data.count))
        // The padding costs next to nothing: the frame is about the data's own frame.
        let alone = try encode(data, encoder)
        #expect(frame.count <= alone.count + 16 * walk.blocks.count, "padded \(frame.count), data alone \(alone.count)")
        #expect(frame.count < (try encode(raw, encoder)).count || validElements * 100 > elements * 95, "cutting at the padding pays")
    }

    @Test(arguments: [DType.float32, .bfloat16])
    func literalFramesAreNoLargerThanLZLevel1OnNormalWeights(dtype: DType) throws {
        let set: CodecDataSet = dtype == .bfloat16 ? .bf16Normal : .fp32Normal
        let raw = set.bytes(elements: (4 << 20) / dtype.size)
        var literal = ChunkEncoder(zstdLevel: 1, elementSize: dtype.size)
        literal.frames = .literal
        let lit = try encode(raw, literal)
        let lz = try encode(raw, ChunkEncoder(zstdLevel: 1, elementSize: dtype.size))
        #expect(try ZstdFrameWalker(lit).isLiteralOnly)
        #expect(try !ZstdFrameWalker(lz).isLiteralOnly, "the LZ reference frame must hold sequences")
        #expect(lit.count <= lz.count, "literal \(lit.count) vs LZ \(lz.count) bytes")
        // The study's figures (codec-study.md section 4): 0.8348 and 0.6696 of raw.
        let ratio = Double(lit.count) / Double(raw.count)
        #expect(ratio < (dtype == .float32 ? 0.836 : 0.671), "ratio \(ratio)")
    }

    @Test func encoderFallsBackToLZWhenLibzstdRefusesTheFrame() throws {
        let raw = CodecDataSet.fp32Normal.bytes(elements: 1 << 20)
        let shuffledRaw = shuffled(raw, 4)
        // Blocks above 128 KiB make ZSTD_compressSequences fail ("too large block").
        let refused = shuffledRaw.withUnsafeBytes { s -> Int? in
            var out = [UInt8](repeating: 0, count: ChunkEncoder.outputCapacity(rawBytes: s.count))
            let cap = out.count
            return out.withUnsafeMutableBytes {
                ZstdContexts.shared.compressLiteral(s.baseAddress!, s.count, elementSize: 4, into: $0.baseAddress!, capacity: cap, maxBlock: 256 << 10)
            }
        }
        #expect(refused == nil)
        var encoder = ChunkEncoder(zstdLevel: 1, elementSize: 4)
        encoder.frames = .literal
        encoder.literalMaxBlock = 256 << 10
        let frame = try encode(raw, encoder)
        #expect(try plainDecode(frame) == shuffledRaw)
        #expect(try !ZstdFrameWalker(frame).isLiteralOnly, "the fallback is an LZ frame")
        #expect(frame == (try encode(raw, ChunkEncoder(zstdLevel: 1, elementSize: 4))), "the fallback is exactly ZSTD_compressCCtx at level 1")
        // The context that failed is fine for the next frame.
        encoder.literalMaxBlock = LiteralZstdFrame.maxBlockBytes
        for _ in 0..<4 { #expect(try ZstdFrameWalker(try encode(raw, encoder)).isLiteralOnly) }
    }

    @Test func floatsAtLevel1AreSampledEverythingElseIsLZ() {
        for d in DType.allCases {
            #expect(ChunkEncoder.shuffleZstd(level: 1, dtype: d).frames == (d.isFloatingPoint ? .sampled : .lz), "\(d)")
            #expect(ChunkEncoder.shuffleZstd(level: 3, dtype: d).frames == .lz, "\(d) at level 3")
        }
        #expect(ZstdFrameSelector.choose(literal: 1000, lz: 990) == .lz)
        #expect(ZstdFrameSelector.choose(literal: 1000, lz: 991) == .literal)
        #expect(ZstdFrameSelector.choose(literal: 1000, lz: 1200) == .literal)
        #expect(ZstdFrameSelector.choose(literal: nil, lz: 5) == .lz)
        #expect(ZstdFrameSelector.choose(literal: 5, lz: nil) == .literal)
    }

    @Test(arguments: [
        (CodecDataSet.fp32Normal, ZstdFrames.literal), (.bf16Normal, .literal), (.expAvg, .literal), (.synthExpAvgSq, .literal),
        (.expAvgSq, .lz),
    ])
    func firstChunkSampleDecides(set: CodecDataSet, expected: ZstdFrames) throws {
        let size = set.dtype.size
        let raw = set.bytes(elements: (4 << 20) / size)
        var scratch = [UInt8](repeating: 0, count: raw.count)
        var out = [UInt8](repeating: 0, count: ChunkEncoder.outputCapacity(rawBytes: raw.count))
        let cap = out.count
        let resolved = raw.withUnsafeBytes { r in
            scratch.withUnsafeMutableBytes { s in
                out.withUnsafeMutableBytes {
                    ChunkEncoder.shuffleZstd(level: 1, dtype: set.dtype).resolvingFrames(
                        firstChunk: r.baseAddress!, count: r.count, scratch: s.baseAddress!, out: $0.baseAddress!, capacity: cap)
                }
            }
        }
        #expect(resolved.frames == expected, "\(set)")
        // The sample's verdict holds on the whole chunk.
        var literal = ChunkEncoder(zstdLevel: 1, elementSize: size)
        literal.frames = .literal
        let lit = try encode(raw, literal).count, lz = try encode(raw, ChunkEncoder(zstdLevel: 1, elementSize: size)).count
        #expect(ZstdFrameSelector.choose(literal: lit, lz: lz) == expected, "\(set): literal \(lit), LZ \(lz)")
    }
}
