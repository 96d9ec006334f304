import CZstd
import Foundation

/// Reusable zstd compression and decompression contexts, one per concurrent user.
///
/// The corresponding C functions are `ZSTD_createCCtx` and `ZSTD_createDCtx`.
/// `@unchecked Sendable`: the free lists are guarded by `lock`; a context is used by one thread
/// at a time between `take` and `give`.
final class ZstdContexts: @unchecked Sendable {
    private var cctx: [OpaquePointer] = []
    private var literalCCtx: [OpaquePointer] = []
    private var dctx: [OpaquePointer] = []
    private let lock = NSLock()

    /// Shared by all readers and writers of the process.
    static let shared = ZstdContexts()

    deinit {
        for c in cctx { ZSTD_freeCCtx(c) }
        for c in literalCCtx { ZSTD_freeCCtx(c) }
        for d in dctx { ZSTD_freeDCtx(d) }
    }

    /// Compresses `src` into `dst` as one frame that records its content size; returns the
    /// frame length, or nil on error.
    func compress(_ src: UnsafeRawPointer, _ n: Int, into dst: UnsafeMutableRawPointer, capacity: Int, level: Int32) -> Int? {
        lock.lock()
        let c = cctx.popLast() ?? ZSTD_createCCtx()!
        lock.unlock()
        defer {
            lock.lock()
            cctx.append(c)
            lock.unlock()
        }
        let r = ZSTD_compressCCtx(c, dst, capacity, src, n, level)
        return ZSTD_isError(r) != 0 ? nil : r
    }

    /// Compresses the shuffled bytes `src` into `dst` as one literal-only frame
    /// (`LiteralZstdFrame`; `valid` bytes of the unshuffled chunk hold data, the rest is zero
    /// padding); returns the frame length, or nil on any error of libzstd's
    /// experimental sequence API (the caller then falls back to `compress`). These contexts
    /// keep their sticky parameters (level 1, explicit block delimiters), so they are pooled
    /// apart from the ones `compress` uses.
    func compressLiteral(
        _ src: UnsafeRawPointer, _ n: Int, elementSize: Int, valid: Int? = nil, into dst: UnsafeMutableRawPointer, capacity: Int,
        maxBlock: Int = LiteralZstdFrame.maxBlockBytes
    ) -> Int? {
        lock.lock()
        let pooled = literalCCtx.popLast()
        lock.unlock()
        let c: OpaquePointer
        if let pooled {
            c = pooled
        } else {
            guard let fresh = ZSTD_createCCtx() else { return nil }
            guard LiteralZstdFrame.configure(fresh) else {
                ZSTD_freeCCtx(fresh)
                return nil
            }
            c = fresh
        }
        defer {
            lock.lock()
            literalCCtx.append(c)
            lock.unlock()
        }
        return LiteralZstdFrame.compress(
            c, src, count: n, elementSize: elementSize, valid: valid, into: dst, capacity: capacity, maxBlock: maxBlock)
    }

    /// Decompresses one frame of `n` bytes into `dst`; returns the decoded length, or nil on error.
    func decompress(_ src: UnsafeRawPointer, _ n: Int, into dst: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        lock.lock()
        let d = dctx.popLast() ?? ZSTD_createDCtx()!
        lock.unlock()
        defer {
            lock.lock()
            dctx.append(d)
            lock.unlock()
        }
        let r = ZSTD_decompressDCtx(d, dst, capacity, src, n)
        return ZSTD_isError(r) != 0 ? nil : r
    }
}
