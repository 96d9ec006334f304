import Dispatch
import Foundation

/// Splits index ranges across the machine's cores.
enum Parallel {
    /// Cores used by the parallel passes.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` over `0..<count` in contiguous ranges of at least `grain` indices, in parallel
    /// when there is more than one range. Bodies must write disjoint data per range.
    @inline(__always)
    static func forRanges(_ count: Int, grain: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        if count <= 0 { return }
        let pieces = min(cores * 4, max(1, count / max(grain, 1)))
        if pieces <= 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: pieces) { i in
            let lo = count * i / pieces, hi = count * (i + 1) / pieces
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(i)` for each `i` in `0..<count` in parallel.
    @inline(__always)
    static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 {
            body(0)
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}
