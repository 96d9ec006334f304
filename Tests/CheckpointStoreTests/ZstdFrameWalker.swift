/// An independent reader of one zstd frame's header and block headers, written from the zstd
/// format specification (RFC 8878, sections 3.1.1.1 to 3.1.1.3.2), for tests that check how a
/// frame is built: single-segment or not, content size, and per block its type, size, the bytes
/// it regenerates and whether it holds sequences.
struct ZstdFrameWalker {
    /// One block of the frame.
    struct Block: Equatable {
        /// 0 Raw, 1 RLE, 2 Compressed.
        var type: Int
        /// Block_Size from the block header.
        var size: Int
        /// Bytes the block regenerates when that is known without decoding sequences (Raw, RLE,
        /// Compressed with no sequences); nil for a block with sequences.
        var regenerated: Int?
        /// Number_of_Sequences is not 0.
        var hasSequences: Bool
    }

    /// Single_Segment_flag.
    var singleSegment = false
    /// Frame_Content_Size, if present.
    var contentSize: Int?
    /// The blocks in order.
    var blocks: [Block] = []

    /// Why a frame could not be walked.
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// Walks the frame in `bytes` (which must end exactly after it).
    init(_ bytes: [UInt8]) throws {
        func need(_ p: Int, _ n: Int) throws { if p + n > bytes.count { throw Malformed(description: "truncated at \(p)") } }
        func le(_ p: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[p + $1]) << (8 * $1) } }
        try need(0, 5)
        guard le(0, 4) == 0xFD2F_B528 else { throw Malformed(description: "no zstd magic") }
        let fhd = Int(bytes[4])
        singleSegment = fhd & 0x20 != 0
        let checksum = fhd & 0x04 != 0
        var p = 5
        if !singleSegment { p += 1 }
        p += [0, 1, 2, 4][fhd & 3]
        let fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]
        try need(p, fcsBytes)
        if fcsBytes > 0 { contentSize = le(p, fcsBytes) + (fcsBytes == 2 ? 256 : 0) }
        p += fcsBytes
        while true {
            try need(p, 3)
            let h = le(p, 3)
            p += 3
            let last = h & 1 != 0, type = (h >> 1) & 3, size = h >> 3
            switch type {
            case 0:
                try need(p, size)
                blocks.append(Block(type: 0, size: size, regenerated: size, hasSequences: false))
                p += size
            case 1:
                try need(p, 1)
                blocks.append(Block(type: 1, size: size, regenerated: size, hasSequences: false))
                p += 1
            case 2:
                try need(p, size)
                blocks.append(try Self.compressedBlock(Array(bytes[p..<(p + size)])))
                p += size
            default: throw Malformed(description: "reserved block type at \(p - 3)")
            }
            if last { break }
        }
        if checksum { p += 4 }
        guard p == bytes.count else { throw Malformed(description: "frame ends at \(p) of \(bytes.count)") }
    }

    /// A Compressed block: its literals section header, then the first byte of the sequences
    /// section (0 means no sequences, and then the block ends there).
    private static func compressedBlock(_ b: [UInt8]) throws -> Block {
        guard b.count >= 2 else { throw Malformed(description: "compressed block of \(b.count) bytes") }
        func le(_ p: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(b[p + $1]) << (8 * $1) } }
        let litType = Int(b[0]) & 3, format = (Int(b[0]) >> 2) & 3
        var header = 0, regenerated = 0, sectionSize = 0
        if litType < 2 {  // Raw or RLE literals
            switch format {
            case 0, 2: (header, regenerated) = (1, Int(b[0]) >> 3)
            case 1: (header, regenerated) = (2, le(0, 2) >> 4)
            default: (header, regenerated) = (3, le(0, 3) >> 4)
            }
            sectionSize = header + (litType == 0 ? regenerated : 1)
        } else {  // Huffman-coded literals, with a tree or reusing the previous one
            let bits = [10, 10, 14, 18][format]
            header = [3, 3, 4, 5][format]
            let v = le(0, header)
            regenerated = (v >> 4) & ((1 << bits) - 1)
            sectionSize = header + ((v >> (4 + bits)) & ((1 << bits) - 1))
        }
        guard sectionSize < b.count else { throw Malformed(description: "literals section of \(sectionSize) bytes in a block of \(b.count)") }
        let noSequences = b[sectionSize] == 0
        if noSequences && sectionSize + 1 != b.count {
            throw Malformed(description: "block with no sequences has \(b.count - sectionSize - 1) trailing bytes")
        }
        return Block(type: 2, size: b.count, regenerated: noSequences ? regenerated : nil, hasSequences: !noSequences)
    }

    /// Whether no block holds sequences.
    var isLiteralOnly: Bool { !blocks.contains { $0.hasSequences } }
}
