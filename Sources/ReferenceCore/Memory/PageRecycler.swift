import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Anonymous memory freed during one forward/backward pass, kept mapped and handed to the
/// pass's later allocations instead of being returned to the system.
///
/// A fresh anonymous page costs a page fault and a kernel zero-fill when first written (about
/// 0.15 s per GB here, most of it fault overhead rather than the zeroing), while clearing a
/// page that is already mapped costs only the memory writes. The backward pass frees each
/// block's saved activations and the logits as it goes, and creates each block's gradients as
/// it reaches it, so those gradients land in memory that is already faulted in.
///
/// Regions are kept sorted by address and merged with their neighbours; a request takes the
/// smallest region that fits (splitting off the rest). After `close()` every kept region is
/// unmapped and `give` refuses, so buffers that outlive the pass (the gradients) unmap their
/// own memory when they are freed.
///
/// `@unchecked Sendable`: all state is behind `lock`.
final class PageRecycler: @unchecked Sendable {
    private let lock = NSLock()
    private var regions: [(base: UnsafeMutableRawPointer, length: Int)] = []
    private var closed = false

    /// Page size used to round lengths.
    static let page = 4096

    /// Bytes currently kept.
    var keptBytes: Int {
        lock.withLock { regions.reduce(0) { $0 + $1.length } }
    }

    /// A kept region of at least `length` bytes (a multiple of the page size), or nil when
    /// none fits. The memory holds whatever its last user left there.
    func take(_ length: Int) -> UnsafeMutableRawPointer? {
        lock.withLock {
            var best: Int?
            for (i, r) in regions.enumerated() where r.length >= length {
                if best == nil || r.length < regions[best!].length { best = i }
            }
            guard let i = best else { return nil }
            let r = regions[i]
            if r.length == length {
                regions.remove(at: i)
            } else {
                regions[i] = (r.base + length, r.length - length)
            }
            return r.base
        }
    }

    /// Keeps `length` bytes at `base` (page aligned) for later requests; false after `close()`,
    /// when the caller unmaps them itself.
    func give(_ base: UnsafeMutableRawPointer, length: Int) -> Bool {
        lock.withLock {
            if closed { return false }
            var i = regions.firstIndex { $0.base > base } ?? regions.count
            regions.insert((base, length), at: i)
            if i + 1 < regions.count, regions[i].base + regions[i].length == regions[i + 1].base {
                regions[i].length += regions[i + 1].length
                regions.remove(at: i + 1)
            }
            if i > 0, regions[i - 1].base + regions[i - 1].length == regions[i].base {
                regions[i - 1].length += regions[i].length
                regions.remove(at: i)
                i -= 1
            }
            return true
        }
    }

    /// Unmaps every kept region; later `give` calls refuse.
    func close() {
        let kept = lock.withLock {
            closed = true
            defer { regions = [] }
            return regions
        }
        for r in kept { munmap(r.base, r.length) }
    }

    deinit { for r in regions { munmap(r.base, r.length) } }
}
