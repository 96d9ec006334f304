/// The buffers of a `SourceWindowCache`'s windows: power-of-two capacities (at least 64 KiB),
/// kept after use and handed out again, so decoding does not fault in fresh pages for every
/// window (a freed large allocation goes back to the system, and the next one arrives as new,
/// zero-filled pages).
///
/// Only the cache's owning thread calls it.
final class WindowBufferPool {
    private var spare: [Int: [UnsafeMutableRawPointer]] = [:]
    /// Bytes held by spare buffers.
    private(set) var spareBytes = 0

    deinit {
        for list in spare.values { for p in list { p.deallocate() } }
    }

    /// The capacity of the buffer that holds `bytes`.
    static func capacity(forBytes bytes: Int) -> Int {
        var c = 64 << 10
        while c < bytes { c <<= 1 }
        return c
    }

    /// Buffers for loads needing `capacities`: spare ones where the pool has them (see
    /// `assign`), new ones for the rest, after freeing spare buffers until the loads' buffers
    /// and the spare ones left hold at most `limit` bytes together (as far as freeing spare
    /// buffers can get there).
    func buffers(for capacities: [Int], limit: Int) -> [(buffer: UnsafeMutableRawPointer, capacity: Int)] {
        let assigned = assign(capacities)
        var held = 0
        for (a, c) in zip(assigned, capacities) { held += a?.capacity ?? c }
        trim(to: max(0, limit - held))
        return zip(assigned, capacities).map { a, c in a ?? (.allocate(byteCount: c, alignment: 64), c) }
    }

    /// Spare buffers for loads needing `capacities`, taken out of the pool: for each load one
    /// of its capacity, or else the smallest one of up to `maximumWaste` times it (so a pool
    /// left holding large buffers serves smaller windows instead of freeing them and faulting in
    /// fresh pages); nil where none is left.
    func assign(_ capacities: [Int]) -> [(buffer: UnsafeMutableRawPointer, capacity: Int)?] {
        capacities.map { c in
            var k = c
            while k <= c * Self.maximumWaste {
                if let p = spare[k]?.popLast() {
                    spareBytes -= k
                    return (p, k)
                }
                k <<= 1
            }
            return nil
        }
    }

    /// How much larger than a load's capacity a spare buffer may be and still serve it.
    static let maximumWaste = 4

    /// Keeps `p` (of `capacity` bytes) for a later load.
    func keep(_ p: UnsafeMutableRawPointer, capacity: Int) {
        spare[capacity, default: []].append(p)
        spareBytes += capacity
    }

    /// Frees spare buffers, smaller ones first (a larger one serves more loads), until at most
    /// `limit` bytes of them remain.
    func trim(to limit: Int) {
        for c in spare.keys.sorted() {
            while spareBytes > limit, let p = spare[c]?.popLast() {
                p.deallocate()
                spareBytes -= c
            }
        }
    }
}
