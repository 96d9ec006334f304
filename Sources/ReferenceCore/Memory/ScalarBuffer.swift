#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed-size, zero-initialised heap buffer of scalars with a stable address, freed on deinit.
///
/// `@unchecked Sendable`: the buffer is shared with parallel kernels only through
/// `SharedPointer`, and every kernel's iterations write disjoint ranges.
public final class ScalarBuffer<T: ReferenceScalar>: @unchecked Sendable {
    /// The storage.
    public let pointer: UnsafeMutablePointer<T>
    /// Number of elements.
    public let count: Int
    /// The anonymous mapping behind a large buffer (nil: `calloc`).
    private let mapping: (base: UnsafeMutableRawPointer, length: Int)?
    /// Where the mapping goes when the buffer is freed (nil: unmapped).
    private let recycler: PageRecycler?

    /// Buffers of at least this many bytes are mapped directly (256 KiB, so the per-block
    /// activations of a few hundred tokens, 768 KiB at GPT-2 width, are mapped and can be
    /// recycled).
    static var mappedThreshold: Int { 1 << 18 }
    /// `MADV_POPULATE_WRITE` (Linux 5.14): fault pages in writable without touching them.
    static var populateWrite: Int32 { 23 }

    /// Allocates `count` elements, all zero. Small buffers come from `calloc`. Large ones are an
    /// anonymous `mmap` whose pages are faulted in up front, in parallel ranges, by
    /// `madvise(MADV_POPULATE_WRITE)` (or, on kernels without it, by writing one zero byte per
    /// page); both beat a single-threaded `MAP_POPULATE` here. A kernel whose first access is a read (a GEMM
    /// accumulating with beta = 1) would otherwise map the shared zero page and then take a
    /// copy-on-write fault with a cross-core TLB flush on every 4 KiB page, which cost about half
    /// of the backward pass. Huge pages (`MADV_HUGEPAGE`) were slower here: a 2 MiB page the VM
    /// has not used lately took about 1 s per 512 MiB to fault in (4 KiB pages: 0.17 s), with no
    /// compaction recorded.
    public convenience init(count: Int) { self.init(count: count, recycler: nil) }

    /// Allocates `count` zeroed elements; a large buffer takes already-mapped memory from
    /// `recycler` when it has a region that fits (cleared in parallel ranges), and gives its
    /// memory back to it when freed.
    init(count: Int, recycler: PageRecycler?) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        #if os(Linux)
            if bytes >= Self.mappedThreshold {
                let page = PageRecycler.page, length = (bytes + page - 1) / page * page
                if let recycler, let reused = recycler.take(length) {
                    let base = SharedPointer(reused.bindMemory(to: UInt8.self, capacity: length))
                    // Iterations clear disjoint ranges.
                    Parallel.forRanges(length / page, grain: 256) { r in
                        (base.p + r.lowerBound * page).update(repeating: 0, count: r.count * page)
                    }
                    mapping = (reused, length)
                    self.recycler = recycler
                    pointer = reused.bindMemory(to: T.self, capacity: max(count, 1))
                    return
                }
                let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                if let raw, raw != MAP_FAILED {
                    let base = SharedPointer(raw.bindMemory(to: UInt8.self, capacity: length))
                    // Iterations populate (or write) disjoint page ranges.
                    Parallel.forRanges(length / page, grain: 256) { r in
                        let start = base.p + r.lowerBound * page
                        if madvise(start, r.count * page, Self.populateWrite) != 0 {
                            for i in r { base.p[i * page] = 0 }
                        }
                    }
                    mapping = (raw, length)
                    self.recycler = recycler
                    pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
                    return
                }
            }
        #endif
        guard let raw = calloc(max(count, 1), MemoryLayout<T>.stride) else {
            fatalError("out of memory allocating \(count) elements")
        }
        mapping = nil
        self.recycler = nil
        pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Allocates a buffer holding a copy of `values`.
    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit {
        #if os(Linux)
            if let mapping {
                if let recycler, recycler.give(mapping.base, length: mapping.length) { return }
                munmap(mapping.base, mapping.length)
                return
            }
        #endif
        free(pointer)
    }

    /// The elements as an array (a copy).
    public var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// Element access (no bounds check beyond a debug precondition).
    public subscript(i: Int) -> T {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
