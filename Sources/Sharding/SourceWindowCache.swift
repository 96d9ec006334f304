import CheckpointStore

/// Decoded windows of source tensors — runs of whole rows that start and end on stored chunk
/// boundaries — shared by every output tensor being written, so each stored chunk is decoded
/// once while its rows are still wanted.
///
/// Reading a column slice or a few rows of a chunked tensor decodes whole chunks; a row-parallel
/// weight split over TP ranks, or Q/K/V rows interleaved per query group, would otherwise be
/// decoded once per rank or per piece. Windows of one tensor never overlap (a new window stops
/// where the next cached one starts), and the least recently used windows are dropped when
/// `budgetBytes` would be exceeded, so memory stays bounded independently of model size.
final class SourceWindowCache {
    private struct Key: Hashable {
        var file: ShardFile
        var tensor: TensorKey
    }

    /// Row geometry of a source tensor in the matrix view.
    private struct Geometry {
        var shape: [Int]
        var rows: Int
        var cols: Int
        var elementSize: Int
        var rowBytes: Int
        var chunkRows: Int
    }

    private final class Window {
        let rows: Range<Int>
        let buffer: UnsafeMutableRawPointer
        let capacity: Int
        var lastUse: Int

        init(rows: Range<Int>, buffer: UnsafeMutableRawPointer, capacity: Int, lastUse: Int) {
            self.rows = rows
            self.buffer = buffer
            self.capacity = capacity
            self.lastUse = lastUse
        }
    }

    private let source: CheckpointSource
    private let windowBytes: Int
    private let budgetBytes: Int
    private var windows: [Key: [Window]] = [:]
    private var geometry: [Key: Geometry] = [:]
    private var spare: [UnsafeMutableRawPointer] = []
    private var residentBytes = 0
    private var clock = 0

    /// Bytes decoded from the source so far (each window counted once when loaded).
    private(set) var decodedBytes: Int64 = 0

    /// A cache over `source` loading windows of about `windowBytes` (rounded to whole chunks) and
    /// keeping at most `budgetBytes` of them (at least one window).
    init(source: CheckpointSource, windowBytes: Int, budgetBytes: Int) {
        self.source = source
        self.windowBytes = max(1, windowBytes)
        self.budgetBytes = max(0, budgetBytes)
    }

    deinit {
        for list in windows.values { for w in list { w.buffer.deallocate() } }
        for p in spare { p.deallocate() }
    }

    /// Copies rows `rows`, columns `cols` (matrix view) of `tensor` in `file` to `dst`, one
    /// output row every `rowStride` bytes.
    func copy(_ file: ShardFile, _ tensor: TensorKey, rows: Range<Int>, cols: Range<Int>,
              into dst: UnsafeMutableRawPointer, rowStride: Int) throws(ShardingError) {
        let key = Key(file: file, tensor: tensor)
        let g = try geometry(key)
        let span = cols.count * g.elementSize
        let colOffset = cols.lowerBound * g.elementSize
        var r = rows.lowerBound
        while r < rows.upperBound {
            let w = try window(key, g, containing: r)
            let n = min(rows.upperBound, w.rows.upperBound) - r
            let src = w.buffer + (r - w.rows.lowerBound) * g.rowBytes + colOffset
            let out = dst + (r - rows.lowerBound) * rowStride
            if span == g.rowBytes && rowStride == g.rowBytes {
                out.copyMemory(from: src, byteCount: n * span)
            } else {
                for i in 0 ..< n { (out + i * rowStride).copyMemory(from: src + i * g.rowBytes, byteCount: span) }
            }
            r += n
        }
    }

    private func geometry(_ key: Key) throws(ShardingError) -> Geometry {
        if let g = geometry[key] { return g }
        let info: TensorInfo
        do { info = try source.reader(key.file).info(key.tensor) } catch { throw .store(error) }
        let rows = info.shape.first ?? 1
        let cols = info.shape.dropFirst().reduce(1, *)
        let es = info.dtype.size
        // Chunks are runs of whole rows when chunk[0] > 1; with chunk[0] == 1 a row spans one or
        // more chunks; unchunked (0-d, empty) tensors are read whole.
        let chunkRows = max(1, info.chunkShape?.first ?? rows)
        let g = Geometry(shape: info.shape, rows: rows, cols: cols, elementSize: es, rowBytes: cols * es, chunkRows: chunkRows)
        geometry[key] = g
        return g
    }

    private func window(_ key: Key, _ g: Geometry, containing row: Int) throws(ShardingError) -> Window {
        clock += 1
        let list = windows[key] ?? []
        if let w = list.first(where: { $0.rows.contains(row) }) {
            w.lastUse = clock
            return w
        }
        let start = row - row % g.chunkRows
        let chunkBytes = max(1, g.chunkRows * g.rowBytes)
        let rowsPerWindow = max(1, windowBytes / chunkBytes) * g.chunkRows
        var end = min(g.rows, start + rowsPerWindow)
        if let next = list.filter({ $0.rows.lowerBound > start }).map(\.rows.lowerBound).min() { end = min(end, next) }
        let bytes = (end - start) * g.rowBytes
        let pooled = bytes <= windowBytes
        let capacity = pooled ? windowBytes : bytes
        evict(toFit: capacity)
        let buffer: UnsafeMutableRawPointer
        if pooled, let p = spare.popLast() {
            buffer = p
        } else {
            buffer = .allocate(byteCount: max(1, capacity), alignment: 64)
        }
        do {
            try RectangleReader.read(source.reader(key.file), key.tensor, shape: g.shape, rows: start ..< end, cols: 0 ..< g.cols,
                                     into: UnsafeMutableRawBufferPointer(start: buffer, count: max(1, bytes)))
        } catch {
            release(buffer, capacity: capacity)
            throw error
        }
        decodedBytes += Int64(bytes)
        let w = Window(rows: start ..< end, buffer: buffer, capacity: capacity, lastUse: clock)
        windows[key, default: []].append(w)
        residentBytes += capacity
        return w
    }

    /// Drops least recently used windows until `capacity` more bytes fit the budget.
    private func evict(toFit capacity: Int) {
        while residentBytes + capacity > budgetBytes {
            var victim: (Key, Int, Int)?
            for (k, list) in windows {
                for (i, w) in list.enumerated() where victim == nil || w.lastUse < victim!.2 { victim = (k, i, w.lastUse) }
            }
            guard let (k, i, _) = victim else { return }
            let w = windows[k]!.remove(at: i)
            if windows[k]!.isEmpty { windows[k] = nil }
            residentBytes -= w.capacity
            release(w.buffer, capacity: w.capacity)
        }
    }

    private func release(_ p: UnsafeMutableRawPointer, capacity: Int) {
        if capacity == windowBytes && residentBytes + (spare.count + 1) * windowBytes <= budgetBytes {
            spare.append(p)
        } else {
            p.deallocate()
        }
    }
}
