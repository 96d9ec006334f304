import Containers
import Dispatch
import Foundation

/// Appends the blocks of one round — a `BlockRecipe` per output file — to the files' tensor
/// streams. When the files' writers are independent of each other
/// (`TensorContainerWriter.isIndependent`), up to `lanes` threads do it at once, each lane taking
/// a contiguous share of the outputs and a block buffer of its own, so checksumming and writing
/// one file overlaps another's; otherwise the calling thread appends them in order.
///
/// The block buffers are kept from round to round (and from group to group), grown when a round
/// needs larger ones, so they are not faulted in again for every block.
final class RoundAppender {
    /// Threads appending at once at most.
    let lanes: Int
    private var blocks: [UnsafeMutableRawPointer] = []
    private var capacity = 0

    /// An appender using up to `lanes` threads (by default one per core).
    init(lanes: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.lanes = max(1, lanes)
    }

    deinit {
        for b in blocks { b.deallocate() }
    }

    /// Appends `recipes[i]` to `streams[i]` for every output; `concurrently` when the writers
    /// behind the streams are independent. On failure the first error (in output order) is
    /// thrown, once every lane has stopped.
    func append(_ recipes: [BlockRecipe], to streams: [any TensorByteSink], concurrently: Bool) throws(ContainerError) {
        let n = concurrently ? min(lanes, recipes.count) : 1
        reserve(lanes: n, bytes: recipes.map(\.byteCount).max() ?? 0)
        if n <= 1 {
            for (r, s) in zip(recipes, streams) { try r.write(to: s, block: blocks[0]) }
            return
        }
        let work = Lanes(recipes: recipes, streams: streams, blocks: Array(blocks.prefix(n)))
        DispatchQueue.concurrentPerform(iterations: n) { work.run(lane: $0) }
        if let failure = work.failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    /// At least `lanes` block buffers of at least `bytes` bytes each.
    private func reserve(lanes n: Int, bytes: Int) {
        if bytes > capacity {
            for b in blocks { b.deallocate() }
            blocks = []
            capacity = max(bytes, 64)
        }
        while blocks.count < n { blocks.append(.allocate(byteCount: capacity, alignment: 64)) }
    }

    /// One round split over lanes. `@unchecked Sendable`: lane `k` appends only to the streams
    /// of its own share of the outputs, fills only `blocks[k]` and writes only `failures[k]`;
    /// the caller reads `failures` after every lane has returned.
    private final class Lanes: @unchecked Sendable {
        let recipes: [BlockRecipe]
        let streams: [any TensorByteSink]
        let blocks: [UnsafeMutableRawPointer]
        let failures: UnsafeMutableBufferPointer<ContainerError?>

        init(recipes: [BlockRecipe], streams: [any TensorByteSink], blocks: [UnsafeMutableRawPointer]) {
            self.recipes = recipes
            self.streams = streams
            self.blocks = blocks
            failures = .allocate(capacity: blocks.count)
            failures.initialize(repeating: nil)
        }

        deinit {
            failures.deinitialize()
            failures.deallocate()
        }

        /// The outputs of lane `k`: a contiguous share, as even as the count allows.
        func share(_ k: Int) -> Range<Int> {
            let n = recipes.count, lanes = blocks.count
            return (k * n / lanes)..<((k + 1) * n / lanes)
        }

        func run(lane k: Int) {
            for i in share(k) {
                do { try recipes[i].write(to: streams[i], block: blocks[k]) } catch {
                    failures[k] = error
                    return
                }
            }
        }
    }
}
