/// A growable, 64-byte aligned buffer reused across tensors, so that streaming many tensors
/// faults its pages in once rather than per tensor.
///
/// Not `Sendable`: one verifier run owns it.
final class BlockBuffer {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0

    init() {}

    deinit { base?.deallocate() }

    /// At least `count` bytes (contents undefined), valid until the next call.
    func reserve(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if count > capacity {
            base?.deallocate()
            base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 64), alignment: 64)
            capacity = max(count, 64)
        }
        return UnsafeMutableRawBufferPointer(start: base, count: count)
    }
}
