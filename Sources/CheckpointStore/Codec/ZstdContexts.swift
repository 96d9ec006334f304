import CZstd
import Foundation

/// Reusable zstd compression and decompression contexts, one per concurrent user.
///
/// The corresponding C functions are `ZSTD_createCCtx` and `ZSTD_createDCtx`.
/// `@unchecked Sendable`: the free lists are guarded by `lock`; a context is used by one thread
/// at a time between `take` and `give`.
final class ZstdContexts: @unchecked Sendable {
    private var cctx: [OpaquePointer] = []
    private var dctx: [OpaquePointer] = []
    private let lock = NSLock()

    /// Shared by all readers and writers of the process.
    static let shared = ZstdContexts()

    deinit {
        for c in cctx { ZSTD_freeCCtx(c) }
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
