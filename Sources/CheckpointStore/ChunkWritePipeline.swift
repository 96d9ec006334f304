import Glibc
import CHDF5
import Dispatch

/// One chunk on its way to disk: raw (padded) bytes in, encoded bytes out.
///
/// `@unchecked Sendable`: a job is filled by the producer, then touched by exactly one worker
/// between `DispatchGroup.enter` and `leave`, then read by the producer after `wait()`.
final class ChunkJob: @unchecked Sendable {
    let dataset: H5Object
    let tensor: String
    let offset: [hsize_t]
    let raw: UnsafeMutableRawPointer
    let rawCount: Int
    let encoder: ChunkEncoder
    var out: UnsafeMutableRawPointer?
    var outCount = 0
    var failed = false

    init(dataset: H5Object, tensor: String, offset: [hsize_t], raw: UnsafeMutableRawPointer, rawCount: Int, encoder: ChunkEncoder) {
        self.dataset = dataset
        self.tensor = tensor
        self.offset = offset
        self.raw = raw
        self.rawCount = rawCount
        self.encoder = encoder
    }
}

/// Encodes chunks on all cores, outside HDF5's global lock, and writes them in order with
/// `H5Dwrite_chunk` from the producer's thread. While one batch is being encoded the producer
/// fills the next, so memory stays at about three batches of chunks.
final class ChunkWritePipeline {
    private let rawPool: BufferPool
    private let outPool: BufferPool
    private let scratchPool: BufferPool
    private let batchSize: Int
    private var pending: [ChunkJob] = []
    private var inflight: [ChunkJob] = []
    private var inflightGroup = DispatchGroup()
    private let queue = DispatchQueue(label: "ckpt.encode", attributes: .concurrent)
    private let path: String
    /// Encoded bytes written so far.
    private(set) var storedBytes: [String: Int] = [:]

    init(path: String, chunkCapacity: Int, threads: Int) {
        self.path = path
        batchSize = max(2, 2 * threads)
        rawPool = BufferPool(capacity: chunkCapacity, keep: 3 * batchSize)
        outPool = BufferPool(capacity: ChunkEncoder.outputCapacity(rawBytes: chunkCapacity), keep: 3 * batchSize)
        scratchPool = BufferPool(capacity: chunkCapacity, keep: 2 * threads + 2)
    }

    /// Capacity of the raw buffers handed out by `rawBuffer()`.
    var chunkCapacity: Int { rawPool.capacity }

    /// A raw buffer for the next chunk.
    func rawBuffer() -> UnsafeMutableRawPointer { rawPool.take() }

    /// Returns a raw buffer that was never submitted.
    func returnRaw(_ p: UnsafeMutableRawPointer) { rawPool.give(p) }

    /// Queues a filled chunk; may block while the previous batch finishes encoding.
    func submit(_ job: ChunkJob) throws(StoreError) {
        pending.append(job)
        if pending.count >= batchSize { try launch() }
    }

    /// Encodes and writes everything queued.
    func drain() throws(StoreError) {
        try launch()
        try writeInflight()
    }

    /// Drops everything queued without writing (after a failure).
    func discard() {
        inflightGroup.wait()
        for j in inflight + pending { release(j) }
        inflight = []
        pending = []
    }

    private func launch() throws(StoreError) {
        // Start encoding the new batch first, then write the previous one while it encodes.
        let previous = inflight, previousGroup = inflightGroup
        inflight = pending
        pending = []
        inflightGroup = DispatchGroup()
        let group = inflightGroup
        for job in inflight {
            group.enter()
            let scratchPool = self.scratchPool, outPool = self.outPool
            queue.async {
                let scratch = scratchPool.take()
                let out = outPool.take()
                if let n = job.encoder.encode(raw: job.raw, count: job.rawCount, scratch: scratch, out: out, capacity: outPool.capacity) {
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
        try write(previous, previousGroup)
    }

    private func writeInflight() throws(StoreError) {
        let batch = inflight
        inflight = []
        try write(batch, inflightGroup)
    }

    private func write(_ batch: [ChunkJob], _ group: DispatchGroup) throws(StoreError) {
        group.wait()
        defer { for j in batch { release(j) } }
        for job in batch {
            guard !job.failed, let out = job.out else {
                throw .hdf5(path: path, tensor: job.tensor, operation: "zstd compression")
            }
            errno = 0
            let rc = job.offset.withUnsafeBufferPointer { off in
                H5Dwrite_chunk(job.dataset.id, ckpt_H5P_DEFAULT(), 0, off.baseAddress, job.outCount, out)
            }
            if rc < 0 {
                if errno != 0 { throw .io(path: path, operation: "writing tensor \(job.tensor)", errno: errno) }
                throw .hdf5(path: path, tensor: job.tensor, operation: "H5Dwrite_chunk")
            }
            storedBytes[job.tensor, default: 0] += job.outCount
        }
    }

    private func release(_ j: ChunkJob) {
        rawPool.give(j.raw)
        if let o = j.out { outPool.give(o) }
        j.out = nil
    }

    deinit { discard() }
}
