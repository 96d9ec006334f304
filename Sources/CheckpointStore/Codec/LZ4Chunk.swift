import CLZ4

/// hdf5plugin's LZ4 chunk format (HDF5 filter 32004, `hdf5plugin.LZ4()`, the default of
/// `cstorch.save`): an 8-byte big-endian decoded size, a 4-byte big-endian block size, then per
/// block a 4-byte big-endian stored size and the block: raw when the stored size equals the
/// block's decoded size, otherwise one LZ4 block (`LZ4_compress_default`). The last block may be
/// shorter. Decoding checks every size against the buffers before touching them; the
/// corresponding C functions are `LZ4_decompress_safe` and `LZ4_compress_default`.
public enum LZ4Chunk {
    /// The HDF5 filter id.
    public static let filterID: Int32 = 32004
    /// The block size hdf5plugin uses when `cd_values[0]` is 0: 1 GiB (so one block per chunk).
    public static let defaultBlockSize = 1 << 30
    /// Bytes of the header.
    static let headerBytes = 12

    /// Why a chunk did not decode: a one-line description of the first size that lies.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Decodes `n` bytes at `src` into `dst` (`capacity` bytes); returns the decoded size, which
    /// the header declares and which must fit in `capacity`.
    public static func decode(
        _ src: UnsafeRawPointer, count n: Int, into dst: UnsafeMutableRawPointer, capacity: Int
    ) -> Result<Int, Failure> {
        guard n >= headerBytes else { return .failure(Failure(description: "LZ4 chunk of \(n) bytes is shorter than its 12-byte header")) }
        let total = bigEndian(src, 8)
        var blockSize = bigEndian(src + 8, 4)
        guard total <= UInt64(capacity) else {
            return .failure(Failure(description: "LZ4 chunk declares \(total) decoded bytes, the chunk holds \(capacity)"))
        }
        let size = Int(total)
        if blockSize > total { blockSize = total }
        guard size == 0 || blockSize > 0 else { return .failure(Failure(description: "LZ4 chunk declares a block size of 0")) }
        guard blockSize <= UInt64(Int32.max) else {
            return .failure(Failure(description: "LZ4 chunk declares a block size of \(blockSize) bytes (at most 2^31-1)"))
        }
        var read = headerBytes
        var written = 0
        var block = 0
        while written < size {
            let expected = min(Int(blockSize), size - written)
            guard n - read >= 4 else {
                return .failure(Failure(description: "LZ4 chunk ends before block \(block)'s size (\(written) of \(size) bytes decoded)"))
            }
            let stored = Int(bigEndian(src + read, 4))
            read += 4
            guard stored <= n - read else {
                return .failure(Failure(description: "LZ4 block \(block) claims \(stored) stored bytes, \(n - read) remain in the chunk"))
            }
            if stored == expected {
                (dst + written).copyMemory(from: src + read, byteCount: stored)
            } else {
                let got = LZ4_decompress_safe(
                    (src + read).assumingMemoryBound(to: CChar.self), (dst + written).assumingMemoryBound(to: CChar.self),
                    Int32(stored), Int32(expected))
                guard got == Int32(expected) else {
                    return .failure(
                        Failure(
                            description: got < 0
                                ? "LZ4 block \(block) (\(stored) bytes) is not valid LZ4 data for \(expected) bytes"
                                : "LZ4 block \(block) decodes to \(got) bytes, its header says \(expected)"))
                }
            }
            read += stored
            written += expected
            block += 1
        }
        guard read == n else { return .failure(Failure(description: "LZ4 chunk has \(n - read) bytes after its last block")) }
        return .success(size)
    }

    /// The output capacity `encode` needs for `n` raw bytes in blocks of `blockSize`.
    public static func capacity(rawBytes n: Int, blockSize: Int = defaultBlockSize) -> Int {
        let b = max(1, min(blockSize, max(n, 1)))
        return headerBytes + 4 * ((n + b - 1) / b) + n
    }

    /// Encodes `n` bytes at `src` into `out` (at least `capacity(rawBytes:blockSize:)` bytes) in
    /// blocks of `blockSize` (hdf5plugin's default: one block), each stored raw when LZ4 does not
    /// make it smaller; returns the encoded size, or nil when `n` or the block size is beyond
    /// what LZ4 takes (2^31-1 bytes a block, chunks below 2 GiB as hdf5plugin requires).
    public static func encode(
        _ src: UnsafeRawPointer, count n: Int, blockSize: Int = defaultBlockSize, into out: UnsafeMutableRawPointer, capacity: Int
    ) -> Int? {
        guard n >= 0, n <= Int(Int32.max), capacity >= Self.capacity(rawBytes: n, blockSize: blockSize) else { return nil }
        let b = max(1, min(blockSize, max(n, 1)))
        storeBigEndian(UInt64(n), out, 8)
        storeBigEndian(UInt64(n == 0 ? 0 : b), out + 8, 4)
        var w = headerBytes
        var r = 0
        while r < n {
            let len = min(b, n - r)
            // A capacity one short of the block makes LZ4 give up (0) exactly when it would not save space.
            let c =
                len > 1
                ? LZ4_compress_default(
                    (src + r).assumingMemoryBound(to: CChar.self), (out + w + 4).assumingMemoryBound(to: CChar.self), Int32(len), Int32(len - 1))
                : 0
            if c > 0 {
                storeBigEndian(UInt64(c), out + w, 4)
                w += 4 + Int(c)
            } else {
                storeBigEndian(UInt64(len), out + w, 4)
                (out + w + 4).copyMemory(from: src + r, byteCount: len)
                w += 4 + len
            }
            r += len
        }
        return w
    }

    private static func bigEndian(_ p: UnsafeRawPointer, _ bytes: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<bytes { v = v << 8 | UInt64(p.load(fromByteOffset: k, as: UInt8.self)) }
        return v
    }

    private static func storeBigEndian(_ v: UInt64, _ p: UnsafeMutableRawPointer, _ bytes: Int) {
        for k in 0..<bytes { p.storeBytes(of: UInt8(truncatingIfNeeded: v >> (8 * UInt64(bytes - 1 - k))), toByteOffset: k, as: UInt8.self) }
    }
}
