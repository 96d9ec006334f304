/// Encodes one chunk the way HDF5's filter pipeline would: optional byte shuffle, optional
/// zstd (one frame with its content size: literal-only or LZ, see `ZstdFrames`) or hdf5plugin's
/// LZ4 (filter 32004, no shuffle), then the Fletcher32 checksum as 4 little-endian bytes
/// appended unless turned off. Runs on any thread.
struct ChunkEncoder: Sendable {
    /// Compression level, or nil for codec `none`.
    let zstdLevel: Int32?
    /// Element size for the shuffle.
    let elementSize: Int
    /// How the zstd frame is built (when `zstdLevel` is set).
    var frames: ZstdFrames = .lz
    /// Whether to compress with LZ4 (when `zstdLevel` is nil).
    var lz4 = false
    /// Whether to append the Fletcher32 checksum.
    var fletcher32 = true
    /// Largest block of a literal-only frame. Only tests change it: above zstd's 128 KiB limit
    /// libzstd refuses the frame, which exercises the fallback to LZ.
    var literalMaxBlock = LiteralZstdFrame.maxBlockBytes

    /// The encoder of a shuffle + zstd dataset at `level` whose elements are `dtype` values:
    /// float types (fp32, bf16, fp16, fp64) at level 1 get literal-only frames unless their
    /// first chunk says LZ wins (`ZstdFrameSelector`); integers, bools and other levels get LZ.
    static func shuffleZstd(level: Int, dtype: DType) -> ChunkEncoder {
        var e = ChunkEncoder(zstdLevel: Int32(level), elementSize: dtype.size)
        e.frames = level == 1 && dtype.isFloatingPoint ? .sampled : .lz
        return e
    }

    /// The output buffer size needed for a chunk of `n` raw bytes.
    static func outputCapacity(rawBytes n: Int) -> Int {
        n + n / 128 + (64 << 10) + 8  // >= ZSTD_compressBound(n) + 4
    }

    /// Whether encoding leaves the bytes as they are (no filter): the raw chunk is written as is.
    var isIdentity: Bool { zstdLevel == nil && !lz4 && !fletcher32 }

    /// Encodes `n` bytes at `raw` into `out` (capacity `outputCapacity`), using `scratch`
    /// (at least `n` bytes) for the shuffle; only the first `valid` bytes hold data (an edge
    /// chunk), the rest are zeros. Returns the encoded length, or nil if zstd failed.
    func encode(
        raw: UnsafeMutableRawPointer, count n: Int, valid: Int? = nil, scratch: UnsafeMutableRawPointer,
        out: UnsafeMutableRawPointer, capacity: Int
    ) -> Int? {
        var len: Int
        if let level = zstdLevel {
            ByteShuffle.shuffle(raw, scratch, count: n, elementSize: elementSize)
            var frame: Int? = nil
            if frames != .lz {
                frame = ZstdContexts.shared.compressLiteral(
                    scratch, n, elementSize: elementSize, valid: valid, into: out, capacity: capacity - 4, maxBlock: literalMaxBlock)
            }
            // LZ frames, and the fallback when libzstd's sequence API failed on this chunk.
            if frame == nil { frame = ZstdContexts.shared.compress(scratch, n, into: out, capacity: capacity - 4, level: level) }
            guard let frame else { return nil }
            len = frame
        } else if lz4 {
            guard let c = LZ4Chunk.encode(raw, count: n, into: out, capacity: capacity - 4) else { return nil }
            len = c
        } else {
            out.copyMemory(from: raw, byteCount: n)
            len = n
        }
        guard fletcher32 else { return len }
        let sum = Fletcher32.checksum(UnsafeRawBufferPointer(start: out, count: len))
        out.storeBytes(of: sum.littleEndian, toByteOffset: len, as: UInt32.self)
        len += 4
        return len
    }

    /// This encoder with its frame kind decided (`frames` no longer `.sampled`) from the
    /// dataset's first chunk of `count` raw bytes at `raw`, with `scratch` and `out` as in
    /// `ZstdFrameSelector.sample`. Any other encoder is returned as it is.
    func resolvingFrames(
        firstChunk raw: UnsafeRawPointer, count: Int, scratch: UnsafeMutableRawPointer, out: UnsafeMutableRawPointer, capacity: Int
    ) -> ChunkEncoder {
        guard frames == .sampled, let level = zstdLevel else { return self }
        let s = ZstdFrameSelector.sample(
            raw: raw, count: count, elementSize: elementSize, level: level, scratch: scratch, out: out, capacity: capacity)
        var e = self
        e.frames = ZstdFrameSelector.choose(literal: s.literal, lz: s.lz)
        return e
    }
}
