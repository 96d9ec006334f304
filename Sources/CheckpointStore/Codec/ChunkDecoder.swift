import CHDF5

/// Undoes a dataset's filter pipeline for one chunk read with `H5Dread_chunk`: Fletcher32
/// check, zstd or LZ4 (hdf5plugin's 32004), shuffle — in reverse pipeline order, honouring the
/// chunk's filter mask.
struct ChunkDecoder: Sendable {
    /// One filter of the pipeline, in write order.
    enum Step: Sendable, Equatable { case shuffle(elementSize: Int), zstd, lz4, fletcher32 }

    /// The pipeline in write order.
    let steps: [Step]
    /// Bytes of a decoded (padded) chunk.
    let chunkBytes: Int

    /// Why a chunk failed to decode.
    enum Failure: Error { case checksum(stored: UInt32, computed: UInt32), decompress, lz4(String), size(Int) }

    /// Decodes `n` bytes at `src` into `dst` (`chunkBytes` long), using `scratch`
    /// (`chunkBytes` long) between the zstd and shuffle stages.
    func decode(
        src: UnsafeMutableRawPointer, count n: Int, mask: UInt32, scratch: UnsafeMutableRawPointer,
        dst: UnsafeMutableRawPointer
    ) -> Failure? {
        let active = steps.indices.reversed().filter { mask & (1 << UInt32($0)) == 0 }.map { steps[$0] }
        let moving = active.filter { $0 != .fletcher32 }.count
        var cur = UnsafeMutableRawPointer(src)
        var len = n
        var moved = 0
        for step in active {
            switch step {
            case .fletcher32:
                guard len >= 4 else { return .size(len) }
                len -= 4
                let stored = UInt32(littleEndian: cur.loadUnaligned(fromByteOffset: len, as: UInt32.self))
                let computed = Fletcher32.checksum(UnsafeRawBufferPointer(start: cur, count: len))
                // HDF5 also accepts the value that pre-1.6.3 libraries stored: each 16-bit half
                // byte-swapped and the halves exchanged.
                let lo = UInt16(truncatingIfNeeded: computed), hi = UInt16(truncatingIfNeeded: computed >> 16)
                let legacy = UInt32(lo.byteSwapped) << 16 | UInt32(hi.byteSwapped)
                if stored != computed && stored != legacy { return .checksum(stored: stored, computed: computed) }
            case .zstd:
                moved += 1
                let target = moved == moving ? dst : scratch
                guard let out = ZstdContexts.shared.decompress(cur, len, into: target, capacity: chunkBytes) else { return .decompress }
                guard out == chunkBytes else { return .size(out) }
                cur = target
                len = out
            case .lz4:
                moved += 1
                let target = moved == moving ? dst : scratch
                switch LZ4Chunk.decode(cur, count: len, into: target, capacity: chunkBytes) {
                case .failure(let f): return .lz4(f.description)
                case .success(let out):
                    guard out == chunkBytes else { return .size(out) }
                    cur = target
                    len = out
                }
            case .shuffle(let size):
                moved += 1
                guard len == chunkBytes else { return .size(len) }
                let target = moved == moving ? dst : scratch
                ByteShuffle.unshuffle(cur, target, count: len, elementSize: size)
                cur = target
            }
        }
        guard len == chunkBytes else { return .size(len) }
        if cur != dst { dst.copyMemory(from: cur, byteCount: len) }
        return nil
    }
}
