import CZstd
import Glibc

/// Single-thread measurements of the zstd stage of ckpt's shuffle + zstd chunks: literal-only
/// frames (`zstd:1` for floats) against LZ frames at level 1 (`ZSTD_compressCCtx`), on one
/// `CodecDataSet`. Used by `ckpt bench codec`.
///
/// The data is shuffled per chunk before timing; compression and decompression of every chunk
/// are timed in the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so other processes
/// on the machine do not count, and the best of `rounds` passes is kept. Every frame is decoded
/// and compared with its input.
public enum CodecBenchmark {
    /// One encoding of one data set.
    public struct Row: Sendable, Encodable {
        /// The data set (`CodecDataSet.rawValue`).
        public var data: String
        /// `literal` or `lz1`.
        public var encoding: String
        /// Whether the writer's per-dataset rule (`zstd:1`) picks this encoding for the data.
        public var selected: Bool
        /// Raw bytes (whole chunks).
        public var rawBytes: Int
        /// Bytes of all frames.
        public var storedBytes: Int
        /// Frames on which the literal-only encoder failed and LZ was written instead.
        public var fallbacks: Int
        /// Every frame decoded to its input.
        public var verified: Bool
        /// Raw bytes per CPU second compressing, in GB/s (one core).
        public var compressGBps: Double
        /// Raw bytes per CPU second decompressing, in GB/s (one core).
        public var decompressGBps: Double

        /// Stored over raw bytes.
        public var ratio: Double { Double(storedBytes) / Double(max(rawBytes, 1)) }

        enum CodingKeys: String, CodingKey {
            case data, encoding, selected, fallbacks, verified, ratio
            case rawBytes = "raw_bytes", storedBytes = "stored_bytes"
            case compressGBps = "compress_gbps_per_core", decompressGBps = "decompress_gbps_per_core"
        }

        /// Encodes the fields and the ratio.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(data, forKey: .data)
            try c.encode(encoding, forKey: .encoding)
            try c.encode(selected, forKey: .selected)
            try c.encode(rawBytes, forKey: .rawBytes)
            try c.encode(storedBytes, forKey: .storedBytes)
            try c.encode(ratio, forKey: .ratio)
            try c.encode(fallbacks, forKey: .fallbacks)
            try c.encode(verified, forKey: .verified)
            try c.encode(compressGBps, forKey: .compressGBps)
            try c.encode(decompressGBps, forKey: .decompressGBps)
        }
    }

    /// Measures both encodings on `totalBytes` of `set` (rounded down to whole elements) cut into
    /// chunks of `chunkBytes`.
    public static func run(_ set: CodecDataSet, chunkBytes: Int, totalBytes: Int, rounds: Int = 5) -> [Row] {
        let size = set.dtype.size
        let chunkElements = max(1, chunkBytes / size)
        let raw = set.bytes(elements: max(1, totalBytes / size))
        var chunks: [[UInt8]] = []
        var start = 0
        while start < raw.count {
            let n = min(chunkElements * size, raw.count - start)
            var shuffled = [UInt8](repeating: 0, count: n)
            raw.withUnsafeBytes { r in
                shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle(r.baseAddress! + start, $0.baseAddress!, count: n, elementSize: size) }
            }
            chunks.append(shuffled)
            start += n
        }
        let choice = raw.withUnsafeBytes { r in
            let n = min(chunkElements * size, r.count)
            var scratch = [UInt8](repeating: 0, count: n)
            var out = [UInt8](repeating: 0, count: ChunkEncoder.outputCapacity(rawBytes: n))
            let cap = out.count
            let s = scratch.withUnsafeMutableBytes { sc in
                out.withUnsafeMutableBytes {
                    ZstdFrameSelector.sample(
                        raw: r.baseAddress!, count: n, elementSize: size, level: 1, scratch: sc.baseAddress!, out: $0.baseAddress!, capacity: cap)
                }
            }
            return ZstdFrameSelector.choose(literal: s.literal, lz: s.lz)
        }
        return [ZstdFrames.literal, .lz].map { frames in
            measure(set, chunks: chunks, elementSize: size, frames: frames, selected: frames == choice, rounds: max(1, rounds))
        }
    }

    private static func measure(_ set: CodecDataSet, chunks: [[UInt8]], elementSize: Int, frames: ZstdFrames, selected: Bool, rounds: Int) -> Row {
        let capacity = ChunkEncoder.outputCapacity(rawBytes: chunks.map(\.count).max() ?? 0)
        var frameBytes = [[UInt8]](repeating: [UInt8](repeating: 0, count: capacity), count: chunks.count)
        var lengths = [Int](repeating: 0, count: chunks.count)
        var fallbacks = 0
        var best = Double.infinity
        for _ in 0..<rounds {
            fallbacks = 0
            let t0 = threadCPUSeconds()
            for i in chunks.indices {
                lengths[i] = chunks[i].withUnsafeBytes { src in
                    frameBytes[i].withUnsafeMutableBytes { dst -> Int in
                        if frames == .literal,
                            let n = ZstdContexts.shared.compressLiteral(
                                src.baseAddress!, src.count, elementSize: elementSize, into: dst.baseAddress!, capacity: capacity)
                        {
                            return n
                        }
                        if frames == .literal { fallbacks += 1 }
                        return ZstdContexts.shared.compress(src.baseAddress!, src.count, into: dst.baseAddress!, capacity: capacity, level: 1) ?? 0
                    }
                }
            }
            best = min(best, threadCPUSeconds() - t0)
        }
        var decoded = [UInt8](repeating: 0, count: chunks.map(\.count).max() ?? 0)
        func decode(_ i: Int) -> Int? {
            frameBytes[i].withUnsafeBytes { f in
                decoded.withUnsafeMutableBytes { ZstdContexts.shared.decompress(f.baseAddress!, lengths[i], into: $0.baseAddress!, capacity: $0.count) }
            }
        }
        var bestDecode = Double.infinity
        for _ in 0..<rounds {
            let t0 = threadCPUSeconds()
            for i in chunks.indices { _ = decode(i) }
            bestDecode = min(bestDecode, threadCPUSeconds() - t0)
        }
        let verified = chunks.indices.allSatisfy { decode($0) == chunks[$0].count && decoded.prefix(chunks[$0].count).elementsEqual(chunks[$0]) }
        let rawBytes = chunks.reduce(0) { $0 + $1.count }
        return Row(
            data: set.rawValue, encoding: frames == .literal ? "literal" : "lz1", selected: selected, rawBytes: rawBytes,
            storedBytes: lengths.reduce(0, +), fallbacks: fallbacks, verified: verified,
            compressGBps: Double(rawBytes) / best / 1e9, decompressGBps: Double(rawBytes) / bestDecode / 1e9)
    }

    /// CPU seconds the calling thread has used.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
