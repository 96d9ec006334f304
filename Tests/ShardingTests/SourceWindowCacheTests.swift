import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// Loading ahead: windows started by `prefetchAhead` are decoded once and used by the next
/// `prefetch`, and loads ahead never push the current round's windows out of the budget.
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

    /// Rows `rows` copied out of the cache.
    static func copy(_ cache: SourceWindowCache, _ rows: Range<Int>) throws -> [UInt8] {
        var out = [UInt8](repeating: 0xFF, count: rows.count * 64)
        try out.withUnsafeMutableBytes { b in
            try cache.copy(.wafer, .model("embed.tokens.weight"), rows: rows, cols: 0..<16, into: b.baseAddress!, rowStride: 64)
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
}
