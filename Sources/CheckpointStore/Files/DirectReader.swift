import CDirectIO
import Foundation

/// Large reads of one input file with `O_DIRECT` (see `DirectIO`): a second descriptor of the
/// file, block-aligned reads into pooled page-aligned bounce buffers, each copied out. A read is
/// taken only when it is at least `DirectIO.minimumBytes` long and most of its range is not in
/// the page cache (a warm file is read from memory, as before); otherwise the caller reads it
/// through its buffered descriptor.
///
/// `@unchecked Sendable`: the descriptor is immutable until `deinit`; `refused` is guarded by
/// `lock`; every read works on its own bounce buffer.
public final class DirectReader: @unchecked Sendable {
    /// What `read` did.
    public enum Outcome: Equatable, Sendable {
        /// The bytes are in the buffer.
        case done
        /// Not read: read the range through the buffered descriptor.
        case declined
        /// The file ends before the range does (it shrank since it was opened).
        case shortFile
        /// The read failed with this `errno` value.
        case failed(Int32)
    }

    private let descriptor: Int32
    private let lock = NSLock()
    private var refused = false
    /// The bounce buffers' size: one `pread` each.
    static let bounceBytes = 8 << 20
    private static let bounce = BufferPoolRegistry.pool(capacity: bounceBytes, keep: 4)

    /// A direct reader of `path`, or nil when direct I/O is off (`DirectIO.enabled`) or the
    /// filesystem refuses `O_DIRECT`. The corresponding C function is `open`.
    public init?(path: String) {
        guard DirectIO.enabled else { return nil }
        let fd = ckpt_open_direct_read(path)
        guard fd >= 0 else { return nil }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Reads `count` bytes at `offset` into `out` directly, unless the read is small, mostly
    /// cached (checked on `buffered`, the caller's descriptor of the same file) or this
    /// filesystem refused a direct read before.
    public func read(at offset: Int, count: Int, into out: UnsafeMutableRawPointer, buffered: Int32) -> Outcome {
        guard count >= DirectIO.minimumBytes, offset >= 0 else { return .declined }
        lock.lock()
        let off = refused
        lock.unlock()
        if off { return .declined }
        let cached = ckpt_cached_percent(buffered, off_t(offset), count)
        if cached >= 50 { return .declined }
        let pool = Self.bounce
        let b = pool.take()
        defer { pool.give(b) }
        switch ckpt_direct_pread(descriptor, out, count, off_t(offset), b, Self.bounceBytes) {
        case 0: return .done
        case EINVAL:
            lock.lock()
            refused = true
            lock.unlock()
            return .declined
        case ENODATA: return .shortFile
        case let e: return .failed(e)
        }
    }
}
