import CHDF5
import Dispatch
import Foundation
import Glibc

/// Reads datasets of one open HDF5 file the fast way: finds the needed chunks in HDF5's chunk
/// index, then reads (`pread`) and decodes them (shuffle, zstd, LZ4, Fletcher32) on all cores
/// outside HDF5's global lock, straight into the caller's buffer; pipelines ckpt cannot decode
/// itself go through `H5Dread`. Used by `CheckpointReader` (ckpt's files) and `HDF5DatasetFile`
/// (any HDF5 file).
///
/// `@unchecked Sendable`: its state is immutable after `init` except the buffer pools, which are
/// guarded by `poolLock`; HDF5 calls run inside `HDF5Library`'s section.
final class DatasetReadEngine: @unchecked Sendable {
    /// The file, for messages.
    let path: String
    /// A plain descriptor on the file (owned by the caller, open as long as the engine is used).
    let fd: Int32
    /// File offset of HDF5 address 0 (the user-block size).
    let baseAddress: UInt64
    /// Cores to decode on.
    let threads: Int
    private let poolLock = NSLock()
    private var pools: [Int: BufferPool] = [:]

    init(path: String, fd: Int32, baseAddress: UInt64, threads: Int) {
        self.path = path
        self.fd = fd
        self.baseAddress = baseAddress
        self.threads = max(1, threads)
    }

    func pool(_ capacity: Int) -> BufferPool {
        poolLock.lock()
        defer { poolLock.unlock() }
        if let p = pools[capacity] { return p }
        let p = BufferPool(capacity: capacity, keep: 4 * threads + 4)
        // A Megatron rank file has about six chunk sizes, each with a decode and a raw pool;
        // dropping all pools at 8 made every other tensor allocate (and fault in) fresh buffers.
        if pools.count >= 32 { pools.removeAll() }
        pools[capacity] = p
        return p
    }

    /// Finds the needed chunks in HDF5's chunk index (this thread), then reads (`pread`) and
    /// decodes them with `concurrentPerform`, the calling thread included, in groups of a few
    /// chunks per core. For whole reads of flat-contiguous chunking the checksum is fed, on a
    /// serial queue, as each group's output prefix completes.
    func fastRead(
        _ ds: StoredDataset, decoder: ChunkDecoder, layout: ChunkLayout, selection: [DimSelection],
        out: UnsafeMutableRawPointer, hasher: inout XXH3Hasher?
    ) throws(StoreError) {
        let t = ds.info.key.description
        let esize = ds.info.dtype.size
        let geo = ReadGeometry(out: out, selection: selection, shape: layout.shape, chunk: layout.chunk, elementSize: esize)
        // Chunk grid indices that hold at least one selected element, per dimension.
        var perDim: [[Int]] = []
        for k in 0..<layout.shape.count {
            let s = selection[k]
            let c = layout.chunk[k]
            perDim.append((s.start / c...(s.last / c)).filter { !geo.selectedRange(k, origin: $0 * c).isEmpty })
        }
        if perDim.contains(where: { $0.isEmpty }) { return }
        let hashInline = hasher != nil && layout.isFlatContiguous
        if !hashInline { hasher = nil }

        // Every chunk origin in C order, located through the chunk index (the only HDF5 calls
        // of a fast read: reading and decoding below run outside the HDF5 section).
        var jobs: [ChunkReadJob] = []
        HDF5Library.lock()
        var idx = [Int](repeating: 0, count: perDim.count)
        outer: while true {
            let origin = (0..<perDim.count).map { perDim[$0][idx[$0]] * layout.chunk[$0] }
            let j = ChunkReadJob(origin: origin)
            let off = origin.map { hsize_t($0) }
            var mask: UInt32 = 0
            var addr: haddr_t = 0
            var size: hsize_t = 0
            let rc = off.withUnsafeBufferPointer { H5Dget_chunk_info_by_coord(ds.object.id, $0.baseAddress, &mask, &addr, &size) }
            if rc < 0 {
                j.failure = "chunk index unreadable"
            } else if addr != haddr_t.max && size > 0 {  // else never written: reads as the fill value
                j.address = baseAddress + UInt64(addr)
                j.rawCount = Int(size)
                j.mask = mask
            }
            jobs.append(j)
            var k = perDim.count - 1
            while k >= 0 {
                idx[k] += 1
                if idx[k] < perDim[k].count { break }
                idx[k] = 0
                k -= 1
            }
            if k < 0 { break outer }
        }
        HDF5Library.unlock()

        let chunkBytes = decoder.chunkBytes
        let work = pool(chunkBytes + 64)
        let rawPool = pool(ChunkEncoder.outputCapacity(rawBytes: chunkBytes))
        let fill = ds.fill
        let fd = self.fd
        let totalOut = selection.reduce(1) { $0 * $1.count } * esize
        let hashQueue = DispatchQueue(label: "ckpt.read.hash")
        let hashGroup = DispatchGroup()
        let hashing = hasher.map { UncheckedBox($0) }
        var hashed = 0
        let groupSize = 4 * threads
        var first = 0
        var failure: StoreError?
        while first < jobs.count && failure == nil {
            let group = Array(jobs[first..<min(jobs.count, first + groupSize)])
            DispatchQueue.concurrentPerform(iterations: group.count) { i in
                Self.decode(group[i], fd: fd, decoder: decoder, geo: geo, work: work, rawPool: rawPool, fill: fill)
            }
            if let f = group.first(where: { $0.failure != nil }) {
                failure = .corruptChunk(path: path, tensor: t, detail: "chunk at \(f.origin): \(f.failure!)")
                break
            }
            if let box = hashing, let lastJob = group.last {
                // The output prefix up to the end of this group's last chunk is final.
                let lastFlat = zip(lastJob.origin, geo.outStrides).reduce(0) { $0 + $1.0 * $1.1 }
                let valid = (0..<layout.shape.count).reduce(esize) { $0 * min(layout.chunk[$1], layout.shape[$1] - lastJob.origin[$1]) }
                let end = min(totalOut, lastFlat + valid)
                if end > hashed {
                    let range = UncheckedBox(UnsafeRawBufferPointer(start: out + hashed, count: end - hashed))
                    hashQueue.async(group: hashGroup) { box.value.update(range.value) }
                    hashed = end
                }
            }
            first += group.count
        }
        hashGroup.wait()
        if let failure { throw failure }
        if let box = hashing, hashed < totalOut {
            box.value.update(UnsafeRawBufferPointer(start: out + hashed, count: totalOut - hashed))
        }
    }

    /// Reads one chunk's stored bytes and decodes them into the output (runs on any thread).
    private static func decode(
        _ j: ChunkReadJob, fd: Int32, decoder: ChunkDecoder, geo: ReadGeometry, work: BufferPool, rawPool: BufferPool, fill: [UInt8]
    ) {
        if j.failure != nil { return }
        let chunkBytes = decoder.chunkBytes
        let direct = geo.directTarget(origin: j.origin)
        let dst = direct ?? work.take()
        defer { if direct == nil { work.give(dst) } }
        if j.rawCount > 0 {
            let pooled = j.rawCount <= rawPool.capacity
            let raw = pooled ? rawPool.take() : UnsafeMutableRawPointer.allocate(byteCount: j.rawCount, alignment: 64)
            defer { if pooled { rawPool.give(raw) } else { raw.deallocate() } }
            var got = 0
            while got < j.rawCount {
                let n = pread(fd, raw + got, j.rawCount - got, off_t(j.address) + off_t(got))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    j.failure = "unreadable at byte \(j.address) (the file may be truncated)"
                    return
                }
                got += n
            }
            let scratch = work.take()
            defer { work.give(scratch) }
            if let f = decoder.decode(src: raw, count: j.rawCount, mask: j.mask, scratch: scratch, dst: dst) {
                switch f {
                case .checksum(let s, let c):
                    j.failure = "Fletcher32 checksum mismatch (stored \(String(s, radix: 16)), computed \(String(c, radix: 16)))"
                case .decompress: j.failure = "zstd could not decompress it"
                case .lz4(let detail): j.failure = detail
                case .size(let n): j.failure = "decoded to \(n) bytes, expected \(chunkBytes)"
                }
                return
            }
        } else if fill.allSatisfy({ $0 == 0 }) {
            dst.initializeMemory(as: UInt8.self, repeating: 0, count: chunkBytes)
        } else {
            fill.withUnsafeBytes { f in
                for e in 0..<(chunkBytes / f.count) { (dst + e * f.count).copyMemory(from: f.baseAddress!, byteCount: f.count) }
            }
        }
        if direct == nil { geo.scatter(decoded: dst, origin: j.origin) }
    }

    /// Reads through HDF5 itself (contiguous data, or filters ckpt does not decode directly).
    func hdf5Read(_ ds: StoredDataset, selection: [DimSelection], out: UnsafeMutableRawPointer) throws(StoreError) {
        HDF5Library.lock()
        defer { HDF5Library.unlock() }
        let t = ds.info.key.description
        if let missing = ds.unavailableFilter {
            throw .unsupportedTensor(path: path, tensor: t, detail: "compressed with HDF5 filter \(missing), which is not available")
        }
        if ds.info.shape.isEmpty {
            if H5Dread(ds.object.id, ds.fileType.id, ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), out) < 0 {
                throw .corruptChunk(path: path, tensor: t, detail: "HDF5 could not read it")
            }
            return
        }
        let counts = selection.map { hsize_t($0.count) }
        let starts = selection.map { hsize_t($0.start) }
        let strides = selection.map { hsize_t($0.stride) }
        guard let mspace = H5Object(H5Screate_simple(Int32(counts.count), counts, nil), .dataspace),
            let fspace = H5Object(H5Dget_space(ds.object.id), .dataspace),
            H5Sselect_hyperslab(fspace.id, H5S_SELECT_SET, starts, strides, counts, nil) >= 0
        else { throw .hdf5(path: path, tensor: t, operation: "selecting a hyperslab") }
        if H5Dread(ds.object.id, ds.fileType.id, mspace.id, fspace.id, ckpt_H5P_DEFAULT(), out) < 0 {
            throw .corruptChunk(path: path, tensor: t, detail: "HDF5 could not read or decode it (checksum failure or damaged data)")
        }
    }
}
