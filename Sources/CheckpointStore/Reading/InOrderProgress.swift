import Dispatch
import Foundation

/// Hands a read's output to its consumer in order while the chunks decode out of order: each
/// worker reports its finished chunk, and the worker that extends the finished prefix queues
/// that new stretch of output on the consumer's serial queue, so the consumer runs beside the
/// decoding of later chunks while the bytes are still in cache.
///
/// `@unchecked Sendable`: all state is guarded by `lock`; the queue is serial.
final class InOrderProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var done: [Bool]
    private var prefix = 0
    private var consumed = 0
    private let out: UnsafeRawPointer
    private let totalBytes: Int
    private let ends: [Int]
    private let consumer: OutputConsumer?
    private let queue = DispatchQueue(label: "ckpt.read.consume")
    private let group = DispatchGroup()
    private var failed = false

    /// `ends[i]`: the output offset just past job `i` of `jobs` (jobs in output order; ignored
    /// without a consumer); `consumer` nil tracks failures only.
    init(jobs: Int, out: UnsafeRawPointer, totalBytes: Int, ends: [Int], consumer: OutputConsumer?) {
        precondition(consumer == nil || ends.count == jobs)
        self.out = out
        self.totalBytes = totalBytes
        self.ends = ends
        self.consumer = consumer
        done = [Bool](repeating: false, count: jobs)
    }

    /// Whether a chunk failed (later chunks need not be decoded).
    var hasFailed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return failed
    }

    /// Job `i` finished (`ok` false: it failed; nothing past it is consumed).
    func finished(_ i: Int, ok: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard ok else {
            failed = true
            return
        }
        done[i] = true
        guard let consumer, !failed else { return }
        while prefix < done.count && done[prefix] { prefix += 1 }
        guard prefix > 0 else { return }
        let end = min(totalBytes, ends[prefix - 1])
        if end > consumed {
            let range = UncheckedBox(UnsafeRawBufferPointer(start: out + consumed, count: end - consumed))
            queue.async(group: group) { consumer(range.value) }
            consumed = end
        }
    }

    /// Waits for the queued consumption; returns the bytes consumed so far.
    func wait() -> Int {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return consumed
    }
}
