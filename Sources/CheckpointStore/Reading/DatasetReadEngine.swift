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
/// `@unchecked Sendable`: its state is immutable after `init`; the buffer pools are the
/// process's (`BufferPoolRegistry`); HDF5 calls run inside `HDF5Library`'s section.
final class DatasetReadEngine: @unchecked Sendable {
    /// The file, for messages.
    let path: String
    /// A plain descriptor on the file (owned by the caller, open as long as the engine is used).
    let fd: Int32
    /// File offset of HDF5 address 0 (the user-block size).
    let baseAddress: UInt64
    /// Cores to decode on.
    let threads: Int
    /// Large chunks not in the page cache are read with `O_DIRECT`, straight into the pooled
    /// raw buffer (nil when direct I/O is off or the filesystem refuses it).
    let direct: DirectReader?

    init(path: String, fd: Int32, baseAddress: UInt64, threads: Int) {
        self.path = path
        self.fd = fd
        self.baseAddress = baseAddress
        self.threads = max(1, threads)
        direct = DirectReader(path: path)
    }

    /// Buffers of `capacity` bytes from the process-wide pools (shared with other files).
    func pool(_ capacity: Int) -> BufferPool {
        BufferPoolRegistry.pool(capacity: capacity, keep: 4 * threads + 4)
    }

    /// Finds the needed chunks in HDF5's chunk index (this thread), then reads (`pread`) and
    /// decodes them with `concurrentPerform`, the calling thread included. `consumer` (a
    /// checksum, a NaN count) sees the whole output once, in order: where the output completes
    /// front to back (`completesInOrder`) on a serial queue as the finished prefix grows, while
    /// later chunks decode and the bytes are still in cache; otherwise after the last chunk.
    func fastRead(
        _ ds: StoredDataset, decoder: ChunkDecoder, layout: ChunkLayout, selection: [DimSelection],
        out: UnsafeMutableRawPointer, consumer: OutputConsumer?
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
        let inOrder = Self.completesInOrder(layout, selection)

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
        // Room for a direct read's block-aligned span around the stored bytes.
        let rawPool = pool(ChunkEncoder.outputCapacity(rawBytes: chunkBytes) + 2 * DirectIO.alignment)
        let fill = ds.fill
        let fd = self.fd, reader = self.direct
        let totalOut = selection.reduce(1) { $0 * $1.count } * esize
        let ends = inOrder ? jobs.map { Self.outputEnd(of: $0.origin, layout: layout, selection: selection, geo: geo) } : []
        let progress = InOrderProgress(jobs: jobs.count, out: out, totalBytes: totalOut, ends: ends, consumer: inOrder ? consumer : nil)
        // One pass over all chunks: workers take them in order, and each finished chunk that
        // extends the finished prefix hands that output to the consumer.
        let all = jobs
        DispatchQueue.concurrentPerform(iterations: all.count) { i in
            if progress.hasFailed { return }
            Self.decode(all[i], fd: fd, reader: reader, decoder: decoder, geo: geo, work: work, rawPool: rawPool, fill: fill)
            progress.finished(i, ok: all[i].failure == nil)
        }
        let consumed = progress.wait()
        if let f = jobs.first(where: { $0.failure != nil }) {
            throw .corruptChunk(path: path, tensor: t, detail: "chunk at \(f.origin): \(f.failure!)")
        }
        if let consumer, consumed < totalOut {
            consumer(UnsafeRawBufferPointer(start: out + consumed, count: totalOut - consumed))
        }
    }

    /// Whether chunks in C order fill the output front to back: chunks that tile the flat array
    /// in order (`isFlatContiguous`) read whole, or chunks spanning every trailing dimension read
    /// as a range of leading rows.
    static func completesInOrder(_ layout: ChunkLayout, _ selection: [DimSelection]) -> Bool {
        let full = zip(selection, layout.shape).allSatisfy { $0.start == 0 && $0.count == $1 && ($0.stride == 1 || $0.count <= 1) }
        if full { return layout.isFlatContiguous }
        guard let lead = selection.first, lead.stride == 1 || lead.count <= 1 else { return false }
        return (1..<layout.shape.count).allSatisfy {
            selection[$0].start == 0 && selection[$0].count == layout.shape[$0] && layout.chunk[$0] == layout.shape[$0]
        }
    }

    /// The output byte offset just past the chunk at `origin` (one of an in-order read, so the
    /// chunk's elements are one run of the output; the caller clamps it to the output's size).
    static func outputEnd(of origin: [Int], layout: ChunkLayout, selection: [DimSelection], geo: ReadGeometry) -> Int {
        let start = (0..<origin.count).reduce(0) { $0 + (origin[$1] - selection[$1].start) * geo.outStrides[$1] }
        let valid = (0..<origin.count).reduce(geo.elementSize) { $0 * min(layout.chunk[$1], layout.shape[$1] - origin[$1]) }
        return start + valid
    }

    /// Reads one chunk's stored bytes and decodes them into the output (runs on any thread).
    private static func decode(
        _ j: ChunkReadJob, fd: Int32, reader: DirectReader?, decoder: ChunkDecoder, geo: ReadGeometry, work: BufferPool,
        rawPool: BufferPool, fill: [UInt8]
    ) {
        if j.failure != nil { return }
        let chunkBytes = decoder.chunkBytes
        let direct = geo.directTarget(origin: j.origin)
        let dst = direct ?? work.take()
        defer { if direct == nil { work.give(dst) } }
        if j.rawCount > 0 {
            let span = j.rawCount + 2 * DirectIO.alignment
            let pooled = span <= rawPool.capacity
            let raw = pooled ? rawPool.take() : UnsafeMutableRawPointer.allocate(byteCount: span, alignment: DirectIO.alignment)
            defer { if pooled { rawPool.give(raw) } else { raw.deallocate() } }
            var src = UnsafeMutableRawPointer(raw)
            switch reader?.readSpan(at: Int(j.address), count: j.rawCount, into: raw, capacity: span, buffered: fd) ?? .declined {
            case .done(let at): src = raw + at
            case .shortFile:
                j.failure = "unreadable at byte \(j.address) (the file may be truncated)"
                return
            case .failed(let e):
                j.failure = "unreadable at byte \(j.address): \(String(cString: strerror(e)))"
                return
            case .declined:
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
            }
            let scratch = work.take()
            defer { work.give(scratch) }
            if let f = decoder.decode(src: src, count: j.rawCount, mask: j.mask, scratch: scratch, dst: dst) {
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
