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

    /// What `readSpan` did.
    public enum SpanOutcome: Equatable, Sendable {
        /// The range is in the buffer from this byte on.
        case done(at: Int)
        /// Not read: read the range through the buffered descriptor.
        case declined
        /// The file ends before the range does.
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

    /// Reads the block-aligned span around `count` bytes at `offset` into `buffer` (aligned to
    /// `DirectIO.alignment`, `capacity` bytes; `count + 2 * DirectIO.alignment` always fits)
    /// without a copy: the range starts `at` bytes into it. Declined like `read`, and when the
    /// span does not fit.
    public func readSpan(at offset: Int, count: Int, into buffer: UnsafeMutableRawPointer, capacity: Int, buffered: Int32) -> SpanOutcome {
        guard count >= DirectIO.minimumBytes, offset >= 0, takesDirect(buffered, offset, count) else { return .declined }
        var delta = 0
        switch ckpt_direct_pread_span(descriptor, buffer, capacity, off_t(offset), count, &delta) {
        case 0: return .done(at: delta)
        case ERANGE: return .declined
        case EINVAL:
            refuse()
            return .declined
        case ENODATA: return .shortFile
        case let e: return .failed(e)
        }
    }

    /// Whether a read of the range should go direct: the filesystem has not refused one and
    /// less than half of it is in the page cache.
    private func takesDirect(_ buffered: Int32, _ offset: Int, _ count: Int) -> Bool {
        lock.lock()
        let off = refused
        lock.unlock()
        return !off && ckpt_cached_percent(buffered, off_t(offset), count) < 50
    }

    private func refuse() {
        lock.lock()
        refused = true
        lock.unlock()
    }

    /// Reads `count` bytes at `offset` into `out` directly, unless the read is small, mostly
    /// cached (checked on `buffered`, the caller's descriptor of the same file) or this
    /// filesystem refused a direct read before.
    public func read(at offset: Int, count: Int, into out: UnsafeMutableRawPointer, buffered: Int32) -> Outcome {
        guard count >= DirectIO.minimumBytes, offset >= 0, takesDirect(buffered, offset, count) else { return .declined }
        let pool = Self.bounce
        let b = pool.take()
        defer { pool.give(b) }
        switch ckpt_direct_pread(descriptor, out, count, off_t(offset), b, Self.bounceBytes) {
        case 0: return .done
        case EINVAL:
            refuse()
            return .declined
        case ENODATA: return .shortFile
        case let e: return .failed(e)
        }
    }
}
