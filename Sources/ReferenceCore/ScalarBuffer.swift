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

    /// Buffers of at least this many bytes are mapped directly.
    static var mappedThreshold: Int { 1 << 20 }
    /// `MADV_POPULATE_WRITE` (Linux 5.14): fault pages in writable without touching them.
    static var populateWrite: Int32 { 23 }

    /// Allocates `count` elements, all zero. Small buffers come from `calloc`. Large ones are an
    /// anonymous `mmap` whose pages are faulted in up front, in parallel ranges, by
    /// `madvise(MADV_POPULATE_WRITE)` (or, on kernels without it, by writing one zero byte per
    /// page); both beat a single-threaded `MAP_POPULATE` here. A kernel whose first access is a read (a GEMM
    /// accumulating with beta = 1) would otherwise map the shared zero page and then take a
    /// copy-on-write fault with a cross-core TLB flush on every 4 KiB page, which cost about half
    /// of the backward pass. Huge pages (`MADV_HUGEPAGE`) were slower here: the faults stall in
    /// compaction.
    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        #if os(Linux)
            if bytes >= Self.mappedThreshold {
                let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                if let raw, raw != MAP_FAILED {
                    let base = SharedPointer(raw.bindMemory(to: UInt8.self, capacity: bytes))
                    // Iterations populate (or write) disjoint page ranges.
                    let page = 4096, pages = (bytes + page - 1) / page
                    Parallel.forRanges(pages, grain: 256) { r in
                        let start = base.p + r.lowerBound * page
                        if madvise(start, r.count * page, Self.populateWrite) != 0 {
                            for i in r { base.p[i * page] = 0 }
                        }
                    }
                    mapping = (raw, bytes)
                    pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
                    return
                }
            }
        #endif
        guard let raw = calloc(max(count, 1), MemoryLayout<T>.stride) else {
            fatalError("out of memory allocating \(count) elements")
        }
        mapping = nil
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
