import CHDF5
import Glibc

/// Checks the raw v1 B-tree chunk index of each chunked dataset against what HDF5 reports.
///
/// HDF5 1.10 ignores some bytes of a chunk key — the offset of the extra "element" dimension,
/// which the file format fixes at 0 — that HDF5 2.x compares: with one of them damaged, ckpt
/// (and HDF5 1.10) still find the chunk, but h5py linked against HDF5 2.x silently reads the
/// chunk as fill values. The check parses the dataset's object header (v1 or v2) to the layout
/// message, walks the B-tree nodes, and requires every left key's element offset to be 0 and every
/// leaf entry to match a chunk `H5Dget_chunk_info` lists. Indexes it cannot parse (the 1.10
/// file format's other index types) are skipped.
struct ChunkIndexCheck {
    let fd: Int32
    let base: UInt64
    let fileSize: UInt64

    /// Problems found in `key`'s chunk index, or [] (also when the index is not a v1 B-tree).
    static func problems(_ r: CheckpointReader, _ key: TensorKey) -> [String] {
        HDF5Library.prepareThread()
        HDF5Library.lock()  // every HDF5 call below, and the closes of its handles, inside the section
        defer { HDF5Library.unlock() }
        guard let ds = try? StoredDataset.open(file: r.file.id, path: r.path, key: key), ds.layout != nil else { return [] }
        var info = H5O_info_t()
        guard H5Oget_info2(ds.object.id, &info, UInt32(H5O_INFO_BASIC)) >= 0 else { return [] }
        var ub: hsize_t = 0
        if let fcpl = H5Object(H5Fget_create_plist(r.file.id), .plist) { H5Pget_userblock(fcpl.id, &ub) }
        // The reader's own descriptor: the very file HDF5 parsed, even if the path was replaced.
        let fd = r.fd
        var st = stat()
        fstat(fd, &st)
        let check = ChunkIndexCheck(fd: fd, base: UInt64(ub), fileSize: UInt64(st.st_size))
        guard let (btree, dims, chunk) = check.layoutMessage(objectHeader: UInt64(info.addr)), chunk.count == ds.info.shape.count
        else { return [] }
        var listed: Set<[UInt64]> = []
        if let space = H5Object(H5Dget_space(ds.object.id), .dataspace) {
            var n: hsize_t = 0
            H5Dget_num_chunks(ds.object.id, space.id, &n)
            for i in 0..<n {
                var off = [hsize_t](repeating: 0, count: dims - 1)
                var mask: UInt32 = 0
                var addr: haddr_t = 0
                var size: hsize_t = 0
                if H5Dget_chunk_info(ds.object.id, space.id, i, &off, &mask, &addr, &size) >= 0 {
                    listed.insert(off.map { UInt64($0) } + [UInt64(mask), UInt64(addr), UInt64(size)])
                }
            }
        }
        var out: [String] = []
        if btree == UInt64.max {  // no chunk allocated yet (an empty or unwritten dataset)
            return listed.isEmpty ? [] : ["chunk index address is undefined but HDF5 lists \(listed.count) chunk(s)"]
        }
        let grid = Grid(shape: ds.info.shape.map { UInt64($0) }, chunk: chunk)
        check.walk(node: btree, dims: dims, grid: grid, depth: 0, listed: listed, into: &out)
        return out
    }

    private func bytes(_ addr: UInt64, _ n: Int) -> [UInt8]? {
        guard n > 0, addr < fileSize, n <= 1 << 20 else { return nil }
        var b = [UInt8](repeating: 0, count: n)
        let got = pread(fd, &b, n, off_t(base + addr))
        return got == n ? b : nil
    }

    private static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    /// The dataset extent and chunk shape the keys must fit.
    struct Grid {
        let shape: [UInt64]
        let chunk: [UInt64]

        /// Why a key's offsets do not fit: each a multiple of the chunk size, inside the extent
        /// (a left key) or at most the extent rounded up to whole chunks (the right bound).
        func problem(_ offsets: [UInt64], rightBound: Bool) -> String? {
            for d in 0..<shape.count where chunk[d] > 0 {
                let o = offsets[d]
                let limit = rightBound ? (shape[d] + chunk[d] - 1) / chunk[d] * chunk[d] : shape[d] - 1
                if o % chunk[d] != 0 || o > limit { return "offset \(o) in dimension \(d) does not fit chunks of \(chunk[d]) in \(shape[d])" }
            }
            return nil
        }
    }

    /// The B-tree address, key dimensionality (rank + 1) and chunk shape from the layout message.
    private func layoutMessage(objectHeader a: UInt64) -> (UInt64, Int, [UInt64])? {
        guard let h = bytes(a, 16) else { return nil }
        var messages: [(type: Int, at: UInt64, size: Int)] = []
        if h[0] == 1 {  // version 1: 16-byte prefix, 8-byte aligned messages
            let total = Int(Self.le(h, 8, 4))
            guard let body = bytes(a + 16, total) else { return nil }
            var p = 0
            while p + 8 <= body.count {
                let size = Int(Self.le(body, p + 2, 2))
                messages.append((Int(Self.le(body, p, 2)), a + 16 + UInt64(p + 8), size))
                p += 8 + size
            }
        } else if h.starts(with: Array("OHDR".utf8)), h[4] == 2 {
            let flags = h[5]
            var p = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0)
            let width = 1 << Int(flags & 3)
            guard let pre = bytes(a, p + width) else { return nil }
            let total = Int(Self.le(pre, p, width))
            p += width
            guard let body = bytes(a + UInt64(p), total) else { return nil }
            let mhead = 4 + ((flags & 0x04) != 0 ? 2 : 0)
            var q = 0
            while q + mhead <= body.count {
                let size = Int(Self.le(body, q + 1, 2))
                messages.append((Int(body[q]), a + UInt64(p + q + mhead), size))
                q += mhead + size
            }
        } else {
            return nil
        }
        // Layout version 3, chunked (class 2): dimensionality, B-tree address, chunk dims.
        guard let m = messages.first(where: { $0.type == 8 }), let b = bytes(m.at, min(m.size, 64)), b.count >= 11,
            b[0] == 3, b[1] == 2, b.count >= 11 + 4 * Int(b[2]), b[2] >= 1
        else { return nil }
        let dims = Int(b[2])
        return (Self.le(b, 3, 8), dims, (0..<(dims - 1)).map { Self.le(b, 11 + 4 * $0, 4) })
    }

    private func walk(node: UInt64, dims: Int, grid: Grid, depth: Int, listed: Set<[UInt64]>, into out: inout [String]) {
        guard depth < 16, let h = bytes(node, 24), h.starts(with: Array("TREE".utf8)), h[4] == 1 else {
            out.append("chunk index node at \(node) is unreadable")
            return
        }
        let level = Int(h[5]), used = Int(Self.le(h, 6, 2))
        let keySize = 8 + 8 * dims
        guard let body = bytes(node + 24, used * (keySize + 8) + keySize) else {
            out.append("chunk index node at \(node) is cut short")
            return
        }
        // Key k bounds child k from the left, key `used` bounds the last child from the right;
        // left keys increase strictly (C order) and have element offset 0.
        var previous: [UInt64]?
        for k in 0...used {
            let key = k * (keySize + 8)
            let offsets = (0..<(dims - 1)).map { Self.le(body, key + 8 + 8 * $0, 8) }
            if let p = grid.problem(offsets, rightBound: k == used) {
                out.append("chunk index key \(k) of the node at \(node): \(p)")
            }
            if k < used, let prev = previous, !prev.lexicographicallyPrecedes(offsets) {
                out.append("chunk index key \(k) of the node at \(node) is out of order")
            }
            previous = offsets
            guard k < used else { break }
            if Self.le(body, key + 8 + 8 * (dims - 1), 8) != 0 {
                out.append("chunk index key \(k) of the node at \(node) has a non-zero element offset")
            }
            let child = Self.le(body, key + keySize, 8)
            if level > 0 {
                walk(node: child, dims: dims, grid: grid, depth: depth + 1, listed: listed, into: &out)
            } else {
                let entry = offsets + [Self.le(body, key + 4, 4), child, Self.le(body, key, 4)]
                if !listed.contains(entry) { out.append("chunk index entry \(k) of the node at \(node) disagrees with HDF5's chunk list") }
            }
        }
    }
}
