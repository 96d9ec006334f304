import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// Loading ahead: windows started by `prefetchAhead` are decoded once and used by the next
/// `prefetch`, and loads ahead never push the current round's windows out of the budget.
/// Only prefetched windows are handed out by address; retired windows are gone and their
/// buffers serve later loads (`WindowBufferPool`).
@Suite struct SourceWindowCacheTests {
    /// A wafer of the tiny GPT-2 whose `embed.tokens.weight` ([37, 16] float32, 64-byte rows) is
    /// stored in chunks of 4 rows, and the expected bytes of its rows.
    static func fixture(_ dir: String) throws -> (CheckpointSource, [UInt8]) {
        let wafer = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: wafer, chunkBytes: 256)
        let bytes = try CheckpointReader(path: wafer).read(.model("embed.tokens.weight")).bytes
        return (try CheckpointSource(path: wafer), bytes)
    }

    static func request(_ rows: Range<Int>) -> SourceWindowCache.Request {
        SourceWindowCache.Request(file: .wafer, tensor: .model("embed.tokens.weight"), rows: rows)
    }

    /// Rows `rows` (prefetched first) copied out of the cache's windows.
    static func copy(_ cache: SourceWindowCache, _ rows: Range<Int>) throws -> [UInt8] {
        try cache.prefetch([request(rows)])
        var out: [UInt8] = []
        for (w, base) in try cache.prefetchedWindows(.wafer, .model("embed.tokens.weight"), rows: rows) {
            let lo = max(rows.lowerBound, w.lowerBound), hi = min(rows.upperBound, w.upperBound)
            out += UnsafeRawBufferPointer(start: base + (lo - w.lowerBound) * 64, count: (hi - lo) * 64)
        }
        return out
    }

    @Test func windowsLoadedAheadAreDecodedOnceAndUsed() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (source, bytes) = try Self.fixture(dir)
        // Windows of 8 rows (two chunks); room for many windows.
        let cache = SourceWindowCache(source: source, windowBytes: 512, budgetBytes: 1 << 20)
        try cache.prefetch([Self.request(0..<8)])
        #expect(cache.decodedBytes == 512)
        cache.prefetchAhead([Self.request(8..<16)])
        #expect(cache.decodedBytes == 1024, "the next round's window is loading")
        try cache.prefetch([Self.request(8..<16)])
        #expect(cache.decodedBytes == 1024, "the window loaded ahead is not decoded again")
        #expect(try Self.copy(cache, 8..<16) == Array(bytes[512..<1024]))
        #expect(try Self.copy(cache, 0..<8) == Array(bytes[0..<512]))
    }

    @Test func loadsAheadDoNotEvictTheCurrentRound() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (source, bytes) = try Self.fixture(dir)
        // A budget of one window buffer (64 KiB): the current round's window fills it.
        let cache = SourceWindowCache(source: source, windowBytes: 512, budgetBytes: 64 << 10)
        try cache.prefetch([Self.request(0..<8)])
        cache.prefetchAhead([Self.request(8..<16)])
        #expect(cache.decodedBytes == 512, "no load ahead without room")
        #expect(try Self.copy(cache, 0..<8) == Array(bytes[0..<512]))
        #expect(cache.decodedBytes == 512, "the current round's window stayed")
        try cache.prefetch([Self.request(8..<16)])
        #expect(cache.decodedBytes == 1024)
        #expect(try Self.copy(cache, 8..<16) == Array(bytes[512..<1024]))
    }

    @Test func prefetchedWindowsAreHandedOutAndRetiredOnesReloaded() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (source, bytes) = try Self.fixture(dir)
        let cache = SourceWindowCache(source: source, windowBytes: 512, budgetBytes: 1 << 20)
        let key = TensorKey.model("embed.tokens.weight")
        try cache.prefetch([Self.request(0..<16)])
        let windows = try cache.prefetchedWindows(.wafer, key, rows: 2..<12)
        #expect(windows.map(\.rows) == [0..<8, 8..<16])
        #expect(Array(UnsafeRawBufferPointer(start: windows[1].base, count: 512)) == Array(bytes[512..<1024]))
        #expect(throws: ShardingError.self) { try cache.prefetchedWindows(.wafer, key, rows: 15..<17) }
        // Rows 9..<10 are still to be read: only the first window goes.
        cache.retire(SourceWindowCache.Key(file: .wafer, tensor: key), keeping: [9..<10])
        #expect(throws: ShardingError.self) { try cache.prefetchedWindows(.wafer, key, rows: 0..<1) }
        #expect(try cache.prefetchedWindows(.wafer, key, rows: 8..<16).count == 1)
        try cache.prefetch([Self.request(0..<8)])
        #expect(cache.decodedBytes == 1536, "a retired window is decoded again when asked for")
        #expect(try Self.copy(cache, 0..<8) == Array(bytes[0..<512]))
    }

    @Test func spareBuffersServeSmallerLoadsAndAreTrimmedSmallestFirst() {
        let pool = WindowBufferPool()
        let mib = 1 << 20
        for c in [8 * mib, 64 << 10, 2 * mib] { pool.keep(.allocate(byteCount: c, alignment: 64), capacity: c) }
        // 2 MiB: its own size; 4 MiB: the 8 MiB buffer (2x); 128 KiB: none (64 KiB is too small,
        // 2 MiB and 8 MiB more than 4x too large).
        let got = pool.assign([2 * mib, 4 * mib, 128 << 10])
        #expect(got.map { $0?.capacity } == [2 * mib, 8 * mib, nil])
        #expect(pool.spareBytes == 64 << 10)
        for g in got { if let g { pool.keep(g.buffer, capacity: g.capacity) } }
        pool.trim(to: 9 * mib)
        #expect(pool.spareBytes == 8 * mib, "the 64 KiB and 2 MiB buffers go first")
        let fresh = pool.buffers(for: [mib, mib], limit: 2 * mib)
        #expect(fresh.map(\.capacity) == [mib, mib])
        #expect(pool.spareBytes == 0, "the spare 8 MiB buffer does not fit the limit beside the loads")
        for f in fresh { f.buffer.deallocate() }
    }
}
