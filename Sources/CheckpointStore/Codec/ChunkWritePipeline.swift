import CHDF5
import Dispatch
import Foundation
import Glibc

/// One chunk on its way to disk: raw (padded) bytes in, encoded bytes out.
///
/// `@unchecked Sendable`: a job is filled by the producer, then touched by exactly one encoder
/// between `DispatchGroup.enter` and `leave`, then by the writer thread after `wait()`.
final class ChunkJob: @unchecked Sendable {
    let dataset: H5Object
    let tensor: String
    let offset: [hsize_t]
    let raw: UnsafeMutableRawPointer
    let rawCount: Int
    /// Bytes at the start of `raw` holding data; the rest is zero padding (an edge chunk).
    let validCount: Int
    let encoder: ChunkEncoder
    var out: UnsafeMutableRawPointer?
    var outCount = 0
    var failed = false

    init(
        dataset: H5Object, tensor: String, offset: [hsize_t], raw: UnsafeMutableRawPointer, rawCount: Int, validCount: Int? = nil,
        encoder: ChunkEncoder
    ) {
        self.dataset = dataset
        self.tensor = tensor
        self.offset = offset
        self.raw = raw
        self.rawCount = rawCount
        self.validCount = validCount ?? rawCount
        self.encoder = encoder
    }
}

/// Encodes chunks on all cores, outside HDF5's global lock (and `HDF5Library`'s section), and
/// writes them in order with `H5Dwrite_chunk` from one writer thread, so the producer (copying and hashing the caller's
/// bytes), the encoders and the file writes all overlap. At most `maxBatches` batches are in
/// flight, which bounds memory to a few chunks per core.
///
/// `@unchecked Sendable`: the producer-side state (`pending`) is touched only by the producer;
/// the shared state (`firstError`, `storedBytes`) is guarded by `lock`; the writer queue is serial.
final class ChunkWritePipeline: @unchecked Sendable {
    private let rawPool: BufferPool
    private let outPool: BufferPool
    private let scratchPool: BufferPool
    private let batchSize: Int
    private var pending: [ChunkJob] = []
    private let encodeQueue = DispatchQueue(label: "ckpt.encode", attributes: .concurrent)
    private let writeQueue = DispatchQueue(label: "ckpt.write")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var firstError: StoreError?
    private let path: String

    init(path: String, chunkCapacity: Int, threads: Int) {
        self.path = path
        batchSize = max(2, 2 * threads)
        let maxBatches = 3
        slots = DispatchSemaphore(value: maxBatches)
        // The process's pools (shared with other writers and readers), so a run writing many
        // files faults its chunk buffers in once.
        rawPool = BufferPoolRegistry.pool(capacity: chunkCapacity, keep: (maxBatches + 1) * batchSize)
        outPool = BufferPoolRegistry.pool(capacity: ChunkEncoder.outputCapacity(rawBytes: chunkCapacity), keep: (maxBatches + 1) * batchSize)
        scratchPool = BufferPoolRegistry.pool(capacity: chunkCapacity + 64, keep: 2 * threads + 2)
    }

    /// A raw buffer for the next chunk.
    func rawBuffer() -> UnsafeMutableRawPointer { rawPool.take() }

    /// Returns a raw buffer that was never submitted.
    func returnRaw(_ p: UnsafeMutableRawPointer) { rawPool.give(p) }

    /// `encoder` with its zstd frame kind decided on the dataset's first chunk (`count` raw bytes
    /// at `raw`), on the caller's thread, with scratch buffers from the pools; called before
    /// that chunk is queued, so every chunk of the dataset is encoded the same way.
    func resolveFrames(_ encoder: ChunkEncoder, firstChunk raw: UnsafeRawPointer, count: Int) -> ChunkEncoder {
        guard encoder.frames == .sampled else { return encoder }
        let scratch = scratchPool.take(), out = outPool.take()
        defer {
            scratchPool.give(scratch)
            outPool.give(out)
        }
        return encoder.resolvingFrames(firstChunk: raw, count: count, scratch: scratch, out: out, capacity: outPool.capacity)
    }

    /// Queues a filled chunk; may block while earlier batches are still in flight.
    func submit(_ job: ChunkJob) throws(StoreError) {
        try checkError()
        pending.append(job)
        if pending.count >= batchSize { launch() }
    }

    /// Encodes and writes everything queued, then reports the first failure, if any.
    func drain() throws(StoreError) {
        launch()
        writeQueue.sync {}
        try checkError()
    }

    /// Drops everything queued without writing (after a failure).
    func discard() {
        lock.lock()
        if firstError == nil { firstError = .writerState(path: path, detail: "writer aborted") }
        lock.unlock()
        writeQueue.sync {}
        for j in pending { release(j) }
        pending = []
    }

    private func checkError() throws(StoreError) {
        lock.lock()
        let e = firstError
        lock.unlock()
        if let e { throw e }
    }

    private func launch() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        slots.wait()
        let group = DispatchGroup()
        let scratchPool = self.scratchPool, outPool = self.outPool
        for job in batch {
            // Unfiltered chunks go to the file from their raw buffer: no copy, no encoder.
            if job.encoder.isIdentity { continue }
            group.enter()
            encodeQueue.async {
                let scratch = scratchPool.take()
                let out = outPool.take()
                if let n = job.encoder.encode(raw: job.raw, count: job.rawCount, valid: job.validCount, scratch: scratch, out: out, capacity: outPool.capacity)
                {
                    job.out = out
                    job.outCount = n
                } else {
                    outPool.give(out)
                    job.failed = true
                }
                scratchPool.give(scratch)
                group.leave()
            }
        }
        writeQueue.async {
            group.wait()
            self.write(batch)
            for j in batch { self.release(j) }
            self.slots.signal()
        }
    }

    /// Runs on the writer queue.
    private func write(_ batch: [ChunkJob]) {
        HDF5Library.prepareThread()
        for job in batch {
            lock.lock()
            let failedBefore = firstError != nil
            lock.unlock()
            if failedBefore { return }
            let identity = job.encoder.isIdentity
            guard !job.failed, let out = identity ? UnsafeMutableRawPointer(job.raw) : job.out else {
                fail(.hdf5(path: path, tensor: job.tensor, operation: "zstd compression"))
                return
            }
            let outCount = identity ? job.rawCount : job.outCount
            // One chunk per HDF5 section, so the producer's calls interleave with these writes.
            HDF5Library.lock()
            errno = 0
            let rc = job.offset.withUnsafeBufferPointer { off in
                H5Dwrite_chunk(job.dataset.id, ckpt_H5P_DEFAULT(), 0, off.baseAddress, outCount, out)
            }
            let writeErrno = errno
            HDF5Library.unlock()
            if rc < 0 {
                fail(
                    writeErrno != 0
                        ? .io(path: path, operation: "writing tensor \(job.tensor)", errno: writeErrno)
                        : .hdf5(path: path, tensor: job.tensor, operation: "H5Dwrite_chunk"))
                return
            }
        }
    }

    private func fail(_ e: StoreError) {
        lock.lock()
        if firstError == nil { firstError = e }
        lock.unlock()
    }

    private func release(_ j: ChunkJob) {
        rawPool.give(j.raw)
        if let o = j.out { outPool.give(o) }
        j.out = nil
    }

    deinit { discard() }
}
