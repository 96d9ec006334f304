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

    /// Allocates `count` elements, all zero. Uses `calloc`, so large buffers come as fresh
    /// zero pages from the kernel without a separate clearing pass.
    public init(count: Int) {
        self.count = count
        guard let raw = calloc(max(count, 1), MemoryLayout<T>.stride) else {
            fatalError("out of memory allocating \(count) elements")
        }
        pointer = raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Allocates a buffer holding a copy of `values`.
    public convenience init(_ values: [T]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { free(pointer) }

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
