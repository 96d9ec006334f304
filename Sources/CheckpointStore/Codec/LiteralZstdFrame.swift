import CZstd

/// A zstd frame whose blocks hold only literals and no sequences: the float encoding of
/// `zstd:1` (`formats/checkpoint-v1.md`, section 8.3).
///
/// The input is a byte-shuffled chunk. It is cut into blocks of at most 128 KiB at its byte-plane
/// boundaries, and each block is handed to libzstd as one block delimiter (offset 0, match length
/// 0, literal length = block length), so libzstd runs no match search and picks, per block,
/// Huffman-coded literals, the previous block's Huffman table, RLE literals or a Raw block. The
/// exponent plane of a float tensor compresses well that way; its mantissa planes are close to
/// random and stay raw. The window is at least the chunk (up to 128 MiB), which makes the frame
/// single-segment with its content size, as hdf5plugin's filter 32015 expects. Every zstd decoder
/// reads the result.
///
/// The corresponding C function is `ZSTD_compressSequences` with `ZSTD_c_blockDelimiters` =
/// `ZSTD_sf_explicitBlockDelimiters` (zstd's static-linking-only API, exported by Debian's
/// libzstd 1.5.4); callers fall back to `ZSTD_compressCCtx` when it fails.
enum LiteralZstdFrame {
    /// The largest zstd block (`ZSTD_BLOCKSIZE_MAX`): blocks are cut at this size within a plane.
    static let maxBlockBytes = 128 << 10
    /// The largest window log set: chunks up to 128 MiB get single-segment frames; larger ones a
    /// 128 MiB window descriptor, which every decoder's default limit (`windowLogMax` 27) accepts.
    static let maxWindowLog = 27

    /// The lengths of the blocks of `n` shuffled bytes of `elementSize`-byte elements: each byte
    /// plane (`n / elementSize` bytes, as `ByteShuffle` lays them out) cut into pieces of at most
    /// `maxBlock` bytes; bytes past the last whole element join the last plane. A chunk of fewer
    /// than two elements is one plane. When only the first `valid` bytes of the unshuffled chunk
    /// hold data (an edge chunk; the rest is HDF5's zero padding), each plane is also cut where
    /// its padding starts, so the zeros become RLE blocks instead of diluting a Huffman table.
    static func forEachBlock(count n: Int, elementSize s: Int, valid: Int? = nil, maxBlock: Int, _ body: (Int) -> Void) {
        func pieces(_ length: Int) {
            var left = length
            while left > 0 {
                let l = min(left, maxBlock)
                body(l)
                left -= l
            }
        }
        let m = n / max(s, 1)
        let planes = s <= 1 || m <= 1 ? 1 : s
        let validElements = planes == 1 ? n : min(m, (valid ?? n) / s)
        for b in 0..<planes {
            let length = planes == 1 ? n : (b == planes - 1 ? n - b * m : m)
            let data = planes == 1 ? min(n, valid ?? n) : validElements
            pieces(data)
            pieces(length - data)
        }
    }

    /// The number of blocks `forEachBlock` yields.
    static func blockCount(count n: Int, elementSize s: Int, valid: Int? = nil, maxBlock: Int) -> Int {
        var k = 0
        forEachBlock(count: n, elementSize: s, valid: valid, maxBlock: maxBlock) { _ in k += 1 }
        return k
    }

    /// The window log for a chunk of `n` bytes: the smallest power of two holding it, from
    /// zstd's minimum 10 up to `maxWindowLog`.
    static func windowLog(count n: Int) -> Int {
        var w = 10
        while w < maxWindowLog && (1 << w) < n { w += 1 }
        return w
    }

    /// Sets the parameters that never change on a fresh literal-frame context: level 1 (the
    /// entropy stage's strength; there is no match search) and explicit block delimiters.
    /// Returns false if libzstd refused one of them.
    static func configure(_ cctx: OpaquePointer) -> Bool {
        let delimiters = Int32(ZSTD_sf_explicitBlockDelimiters.rawValue)
        let level = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)
        let delim = ZSTD_CCtx_setParameter(cctx, ckpt_ZSTD_c_blockDelimiters(), delimiters)
        return ZSTD_isError(level) == 0 && ZSTD_isError(delim) == 0
    }

    /// Compresses the `n` shuffled bytes at `src` (elements of `elementSize` bytes) into `dst`
    /// as one literal-only frame, on a context prepared by `configure`. Returns the frame
    /// length, or nil on any libzstd error (the context is then reset for its next use).
    /// `valid` is as in `forEachBlock`. `maxBlock` above 128 KiB makes libzstd fail, which is
    /// how tests reach the fallback.
    static func compress(
        _ cctx: OpaquePointer, _ src: UnsafeRawPointer, count n: Int, elementSize: Int, valid: Int? = nil,
        into dst: UnsafeMutableRawPointer, capacity: Int, maxBlock: Int = maxBlockBytes
    ) -> Int? {
        guard n > 0 else { return nil }
        let k = blockCount(count: n, elementSize: elementSize, valid: valid, maxBlock: maxBlock)
        let r = withUnsafeTemporaryAllocation(of: ZSTD_Sequence.self, capacity: k) { seqs -> Int in
            var i = 0
            forEachBlock(count: n, elementSize: elementSize, valid: valid, maxBlock: maxBlock) { l in
                seqs[i] = ZSTD_Sequence(offset: 0, litLength: UInt32(l), matchLength: 0, rep: 0)
                i += 1
            }
            // ZSTD_compressSequences leaves the context mid-session (libzstd 1.5.4 refuses the
            // next ZSTD_CCtx_setParameter with "stage wrong"): end it; the parameters stay.
            let reset = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
            if ZSTD_isError(reset) != 0 { return reset }
            let w = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, Int32(windowLog(count: n)))
            if ZSTD_isError(w) != 0 { return w }
            return ZSTD_compressSequences(cctx, dst, capacity, seqs.baseAddress, k, src, n)
        }
        if ZSTD_isError(r) != 0 {
            ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
            return nil
        }
        return r
    }
}
