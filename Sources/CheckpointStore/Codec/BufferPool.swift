import Foundation

/// A pool of equally sized scratch buffers, so the chunk pipeline does not fault in fresh pages
/// for every chunk. Buffers are page-aligned (4096 bytes), so chunks written from them can go to
/// the file with `O_DIRECT` (`DirectIO`); 64-byte aligned below a page.
///
/// `@unchecked Sendable`: the free list is guarded by `lock`.
final class BufferPool: @unchecked Sendable {
    /// Capacity of each buffer in bytes.
    let capacity: Int
    private var free: [UnsafeMutableRawPointer] = []
    private let lock = NSLock()
    /// Free buffers kept for reuse; further ones are freed when given back.
    let keep: Int
    /// Buffers allocated over the pool's life (diagnostics).
    private(set) var allocations = 0

    init(capacity: Int, keep: Int) {
        self.capacity = max(capacity, 64)
        self.keep = keep
    }

    deinit {
        if getenv("CKPT_DEBUG_POOLS") != nil { FileHandle.standardError.write(Data("pool \(capacity) B: \(allocations) allocations\n".utf8)) }
        for p in free { p.deallocate() }
    }

    /// A buffer of `capacity` bytes; contents undefined.
    func take() -> UnsafeMutableRawPointer {
        lock.lock()
        if let p = free.popLast() {
            lock.unlock()
            return p
        }
        allocations += 1
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: capacity >= 4096 ? 4096 : 64)
    }

    /// Returns a buffer taken from this pool.
    func give(_ p: UnsafeMutableRawPointer) {
        lock.lock()
        if free.count < keep {
            free.append(p)
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }
}
