/// Encodes one chunk the way HDF5's filter pipeline would: optional byte shuffle, optional
/// zstd (one frame with its content size) or hdf5plugin's LZ4 (filter 32004, no shuffle), then
/// the Fletcher32 checksum as 4 little-endian bytes appended unless turned off. Runs on any
/// thread.
struct ChunkEncoder: Sendable {
    /// Compression level, or nil for codec `none`.
    let zstdLevel: Int32?
    /// Element size for the shuffle.
    let elementSize: Int
    /// Whether to compress with LZ4 (when `zstdLevel` is nil).
    var lz4 = false
    /// Whether to append the Fletcher32 checksum.
    var fletcher32 = true

    /// The output buffer size needed for a chunk of `n` raw bytes.
    static func outputCapacity(rawBytes n: Int) -> Int {
        n + n / 128 + (64 << 10) + 8  // >= ZSTD_compressBound(n) + 4
    }

    /// Whether encoding leaves the bytes as they are (no filter): the raw chunk is written as is.
    var isIdentity: Bool { zstdLevel == nil && !lz4 && !fletcher32 }

    /// Encodes `n` bytes at `raw` into `out` (capacity `outputCapacity`), using `scratch`
    /// (at least `n` bytes) for the shuffle. Returns the encoded length, or nil if zstd failed.
    func encode(
        raw: UnsafeMutableRawPointer, count n: Int, scratch: UnsafeMutableRawPointer,
        out: UnsafeMutableRawPointer, capacity: Int
    ) -> Int? {
        var len: Int
        if let level = zstdLevel {
            ByteShuffle.shuffle(raw, scratch, count: n, elementSize: elementSize)
            guard let c = ZstdContexts.shared.compress(scratch, n, into: out, capacity: capacity - 4, level: level)
            else { return nil }
            len = c
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
}
