import Containers
import Testing

@testable import Sharding

/// A round's blocks reach their own streams whether the appender splits the outputs over
/// threads or not, and a failing stream's error (the first in output order) is what the round
/// throws.
@Suite struct RoundAppenderTests {
    /// Collects what is appended; fails on the append numbered `failAt` (from 0) if set.
    final class Sink: TensorByteSink {
        var bytes: [UInt8] = []
        var failAt: Int?
        private var appends = 0
        init(failAt: Int? = nil) { self.failAt = failAt }
        func append(_ b: UnsafeRawBufferPointer) throws(ContainerError) {
            defer { appends += 1 }
            if appends == failAt { throw .io(path: "sink", detail: "append \(appends) refused") }
            bytes.append(contentsOf: b)
        }
        func finish() throws(ContainerError) {}
    }

    /// Output `i`'s block: 4 rows of 2048 16-bit elements, rows 1 and 3 from a window whose
    /// bytes are `i + 1` (runs), or the window's left half into each row (filled).
    static func recipe(_ window: UnsafeRawPointer, runs: Bool) -> BlockRecipe {
        let cols = 2048
        let copies: [BlockRecipe.Copy] =
            runs
            ? [1, 3].map { r in
                .init(
                    source: window, sourceShape: [2, cols], sourceBox: .rows(r / 2..<r / 2 + 1, of: [2, cols]),
                    destBox: .rows(r..<r + 1, of: [4, cols]), transposed: false)
            }
            : [
                .init(
                    source: window, sourceShape: [2, cols], sourceBox: TensorBox(offsets: [0, 0], sizes: [2, 1024]),
                    destBox: TensorBox(offsets: [0, 0], sizes: [2, 1024]), transposed: false)
            ]
        return BlockRecipe(byteCount: 4 * cols * 2, blockShape: [4, cols], elementSize: 2, copies: copies, coversBlock: false, widenedFrom: nil)
    }

    static func expected(_ i: Int, runs: Bool) -> [UInt8] {
        let row = 4096, v = UInt8(i + 1)
        let zeros = [UInt8](repeating: 0, count: row)
        if runs { return zeros + [UInt8](repeating: v, count: row) + zeros + [UInt8](repeating: v, count: row) }
        let half = [UInt8](repeating: v, count: row / 2) + [UInt8](repeating: 0, count: row / 2)
        return half + half + [UInt8](repeating: 0, count: 2 * row)
    }

    @Test(arguments: [false, true])
    func everyOutputGetsItsOwnBlock(_ concurrently: Bool) throws {
        let n = 5
        let windows = (0..<n).map { i in
            let p = UnsafeMutableRawPointer.allocate(byteCount: 2 * 4096, alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: UInt8(i + 1), count: 2 * 4096)
            return p
        }
        defer { for w in windows { w.deallocate() } }
        let appender = RoundAppender(lanes: 2)
        let sinks = (0..<n).map { _ in Sink() }
        // Two rounds: blocks are reused, and the second round's are not left over from the first.
        for round in 0..<2 {
            let recipes = (0..<n).map { Self.recipe(windows[$0], runs: ($0 + round) % 2 == 0) }
            try appender.append(recipes, to: sinks, concurrently: concurrently)
        }
        for i in 0..<n { #expect(sinks[i].bytes == Self.expected(i, runs: i % 2 == 0) + Self.expected(i, runs: i % 2 == 1)) }
    }

    @Test func theFirstFailingOutputsErrorIsThrown() throws {
        let w = UnsafeMutableRawPointer.allocate(byteCount: 2 * 4096, alignment: 64)
        defer { w.deallocate() }
        w.initializeMemory(as: UInt8.self, repeating: 1, count: 2 * 4096)
        let sinks = [Sink(), Sink(failAt: 0), Sink(), Sink(failAt: 1)]
        let recipes = sinks.map { _ in Self.recipe(w, runs: true) }
        do {
            try RoundAppender(lanes: 2).append(recipes, to: sinks, concurrently: true)
            Issue.record("no error thrown")
        } catch {
            #expect(error == .io(path: "sink", detail: "append 0 refused"))
        }
        #expect(sinks[0].bytes.count == 4 * 4096, "the other outputs of the failing one's lane before it were written")
    }
}
