import Glibc

/// Process-wide glibc malloc settings for commands that stream large buffers through several
/// threads.
enum MallocTuning {
    /// Sets glibc's `M_MMAP_THRESHOLD` to 1 MiB: buffers of that size and more are mapped
    /// directly and returned to the system when freed. With the default adaptive threshold they
    /// land in per-thread heaps that fragment and never shrink (a TP8 x PP4 merge reached 2.2 GiB
    /// RSS instead of under 1). `mallopt` is looked up at run time because the Glibc module does
    /// not export `<malloc.h>`; on other C libraries nothing happens. The corresponding C
    /// function is `mallopt`.
    static func mapLargeBuffersDirectly() {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in <malloc.h>
        guard let symbol = dlsym(nil, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(mmapThreshold, 1 << 20)
    }
}
