import Glibc

/// Checks the structure of every HDF5 global heap collection (`GCOL`, where every
/// variable-length string attribute keeps its bytes) in the file's metadata (the bytes outside
/// tensor chunks): the objects must tile the collection exactly, ending with the free-space
/// object. HDF5 1.10 reads past such damage (a changed collection size, a free-space object
/// turned into object 32768); HDF5 2.x refuses the attributes, so h5py users could not read the file.
enum GlobalHeapCheck {
    static let signature = Array("GCOL".utf8) + [1, 0, 0, 0]

    /// One line per damaged collection.
    static func problems(_ r: CheckpointReader) -> [String] {
        var chunks: [(UInt64, UInt64)] = []
        for t in r.tensors where t.chunkShape != nil {
            guard let locations = try? r.chunkLocations(t.key) else { continue }
            chunks += locations.map { ($0.address, $0.address + UInt64($0.size)) }
        }
        chunks.sort { $0.0 < $1.0 }
        // The reader's own descriptor: the very file HDF5 parsed, even if the path was replaced.
        let fd = r.fd
        var st = stat()
        fstat(fd, &st)
        let size = UInt64(st.st_size)
        var out: [String] = []
        var start: UInt64 = 0
        for (a, b) in chunks + [(size, size)] {
            if a > start { scan(fd, from: start, to: min(a, size), fileSize: size, into: &out) }
            start = max(start, b)
        }
        return out
    }

    private static func read(_ fd: Int32, _ at: UInt64, _ n: Int) -> [UInt8]? {
        var b = [UInt8](repeating: 0, count: n)
        return pread(fd, &b, n, off_t(at)) == n ? b : nil
    }

    private static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }

    /// Finds collections starting in [from, to) and checks each.
    private static func scan(_ fd: Int32, from: UInt64, to: UInt64, fileSize: UInt64, into out: inout [String]) {
        var pos = from
        let window = 8 << 20
        while pos < to {
            // Only the gap (plus a signature that starts in it): the gaps between chunks are
            // mostly a few bytes, and reading a whole window for each cost more than the data.
            let n = Int(min(min(UInt64(window), to - pos) + UInt64(signature.count - 1), fileSize - pos))
            guard n >= signature.count, let b = read(fd, pos, n) else { return }
            var i = 0
            while i + signature.count <= b.count && pos + UInt64(i) < to {
                if b[i] == 0x47 && b[i..<(i + signature.count)].elementsEqual(signature) {
                    if let p = collectionProblem(fd, at: pos + UInt64(i), fileSize: fileSize) {
                        out.append("global heap collection at \(pos + UInt64(i)): \(p)")
                    }
                }
                i += 1
            }
            pos += UInt64(window)
        }
    }

    /// Why the collection at `at` is malformed, or nil.
    private static func collectionProblem(_ fd: Int32, at: UInt64, fileSize: UInt64) -> String? {
        guard let h = read(fd, at, 16) else { return "cut short" }
        let size = le(h, 8, 8)
        guard size >= 4096, size <= fileSize - at, size <= 1 << 32, let c = read(fd, at, Int(size)) else {
            return "its size \(size) does not fit the file"
        }
        var p = 16
        while p + 16 <= c.count {
            let index = le(c, p, 2), objectSize = le(c, p + 8, 8)
            if index == 0 {  // the free space: the rest of the collection, header included
                return objectSize == UInt64(c.count - p) ? nil : "free space of \(objectSize) bytes, \(c.count - p) left"
            }
            let next = UInt64(p) + 16 + (objectSize + 7) / 8 * 8
            if next > UInt64(c.count) { return "object \(index) of \(objectSize) bytes runs past the end" }
            p = Int(next)
        }
        return p == c.count ? nil : "objects end \(c.count - p) bytes before the end"
    }
}
