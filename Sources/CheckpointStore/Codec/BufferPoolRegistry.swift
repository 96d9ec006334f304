import Foundation

/// The process's chunk buffer pools, shared by every file a process reads or writes, so that
/// reading and writing many files (a verify run over a directory, a convert of TP x PP rank
/// files) faults its buffers in once: a pool per buffer size, at most `maxPools` of them and at
/// most `maxKeptBytes` of free buffers between them (the least recently used pools dropped
/// first; a dropped pool frees its buffers once its last user lets it go).
enum BufferPoolRegistry {
    /// Pools kept at once: a Megatron rank file has about six chunk sizes, each with a decode
    /// and a raw pool.
    static let maxPools = 16
    /// The most free-buffer bytes the kept pools may hold between them (capacity x keep).
    static let maxKeptBytes = 768 << 20
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pools: [Int: BufferPool] = [:]
    nonisolated(unsafe) private static var lastUse: [Int: UInt64] = [:]
    nonisolated(unsafe) private static var clock: UInt64 = 0

    /// The shared pool of `capacity`-byte buffers, keeping at least `keep` free buffers.
    static func pool(capacity: Int, keep: Int) -> BufferPool {
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if let p = pools[capacity], p.keep >= keep {
            lastUse[capacity] = clock
            return p
        }
        pools[capacity] = nil
        lastUse[capacity] = nil
        func kept() -> Int { pools.values.reduce(0) { $0 + $1.capacity * $1.keep } }
        while !pools.isEmpty && (pools.count >= maxPools || kept() + capacity * keep > maxKeptBytes),
            let oldest = lastUse.min(by: { $0.value < $1.value })?.key
        {
            pools[oldest] = nil
            lastUse[oldest] = nil
        }
        let p = BufferPool(capacity: capacity, keep: keep)
        pools[capacity] = p
        lastUse[capacity] = clock
        return p
    }
}
