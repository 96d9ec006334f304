import CheckpointStore
import Containers
import Dispatch
import Foundation

/// Decoded windows of source tensors — runs of whole rows that start and end on stored chunk
/// boundaries, covering the rows a block asks for — shared by every output tensor being
/// written, so each stored chunk is decoded once while its rows are still wanted.
///
/// Reading a column slice or a few rows of a chunked tensor decodes whole chunks; a row-parallel
/// weight split over TP ranks, or Q/K/V rows interleaved per query group, would otherwise be
/// decoded once per rank or per piece. Windows of one tensor never overlap (a new window stops
/// where the next cached one starts), and the least recently used windows are dropped when
/// `budgetBytes` would be exceeded, so memory stays bounded independently of model size.
/// `prefetch` loads the windows a row block needs in parallel (one serial queue per core, each
/// read decoding its chunks on all cores) and waits for them; `prefetchAhead` starts loading the
/// windows of a coming block without waiting, so decoding it overlaps encoding and writing the
/// current one. Loads ahead only use budget that windows of earlier blocks free; windows of the
/// current block stay until the next `prefetch`.
final class SourceWindowCache {
    /// Rows of one source tensor that a block needs.
    struct Request {
        var file: ShardFile
        var tensor: TensorKey
        var rows: Range<Int>
    }

    /// A source tensor: its file and key.
    struct Key: Hashable {
        var file: ShardFile
        var tensor: TensorKey
    }

    /// Row geometry of a source tensor: rows along dimension 0, each `rowBytes` long.
    struct Geometry {
        var shape: [Int]
        var rows: Int
        var elementSize: Int
        var rowBytes: Int
        var chunkRows: Int
        /// The key the container stores the tensor under.
        var storedKey: TensorKey
    }

    private final class Window {
        let rows: Range<Int>
        let buffer: UnsafeMutableRawPointer
        let capacity: Int
        let bytes: Int
        var lastUse: Int
        /// The load filling `buffer`, until it has been waited for.
        var pending: Load?

        init(rows: Range<Int>, buffer: UnsafeMutableRawPointer, capacity: Int, bytes: Int, lastUse: Int, pending: Load?) {
            self.rows = rows
            self.buffer = buffer
            self.capacity = capacity
            self.bytes = bytes
            self.lastUse = lastUse
            self.pending = pending
        }
    }

    private let source: CheckpointSource
    private let windowBytes: Int
    private let budgetBytes: Int
    private let loaders: [DispatchQueue]
    private var windows: [Key: [Window]] = [:]
    private var geometry: [Key: Geometry] = [:]
    private let pool = WindowBufferPool()
    private var residentBytes = 0
    private var clock = 0
    /// Windows used at or after this tick belong to the current block and are not evicted.
    private var pinFrom = 0
    private var nextLoader = 0

    /// Bytes decoded from the source so far (each window counted once when loaded).
    private(set) var decodedBytes: Int64 = 0

    /// A cache over `source` loading windows of about `windowBytes` (rounded to whole chunks) and
    /// keeping at most `budgetBytes` of them (at least the windows of one block).
    init(source: CheckpointSource, windowBytes: Int, budgetBytes: Int) {
        self.source = source
        self.windowBytes = max(1, windowBytes)
        self.budgetBytes = max(0, budgetBytes)
        // Serial queues run on their own threads, so a load may wait for its decode jobs on the
        // shared global queue without starving it.
        loaders = (0..<max(2, ProcessInfo.processInfo.activeProcessorCount)).map { DispatchQueue(label: "ckpt.window-loader.\($0)") }
    }

    deinit {
        for list in windows.values {
            for w in list {
                w.pending?.done.wait()
                release(w.buffer, capacity: w.capacity, keep: false)
            }
        }
    }

    /// Loads, in parallel, every window the `requests` need that is not cached yet, and waits for
    /// them (and for those `prefetchAhead` started). These windows stay until the next call.
    func prefetch(_ requests: [Request]) throws(ShardingError) {
        clock += 1
        pinFrom = clock
        let (used, loads) = try plan(requests)
        let capacities = loads.map { WindowBufferPool.capacity(forBytes: $0.2.count * $0.1.rowBytes) }
        evict(toFit: capacities.reduce(0, +))
        var started: [(Key, Window)] = []
        var firstFailure: ShardingError?
        do throws(ShardingError) {
            started = try start(loads, buffers(capacities))
        } catch {
            firstFailure = error
        }
        for (key, w) in used + started {
            do throws(ShardingError) { try settle(key, w) } catch { if firstFailure == nil { firstFailure = error } }
        }
        if let firstFailure { throw firstFailure }
    }

    /// Starts loading the windows the `requests` (a coming block) need, without waiting, as far
    /// as the budget allows once windows of earlier blocks are dropped. Best effort: a failure
    /// surfaces when the block is prefetched or copied.
    func prefetchAhead(_ requests: [Request]) {
        clock += 1
        guard var loads = try? plan(requests).loads else { return }
        var capacities = loads.map { WindowBufferPool.capacity(forBytes: $0.2.count * $0.1.rowBytes) }
        evict(toFit: capacities.reduce(0, +))
        while !loads.isEmpty && residentBytes + capacities.reduce(0, +) > budgetBytes {
            loads.removeLast()
            capacities.removeLast()
        }
        _ = try? start(loads, buffers(capacities))
    }

    /// The cached (or loading) windows the `requests` touch, marked used now, and the rows of
    /// the windows still to load.
    private func plan(_ requests: [Request]) throws(ShardingError) -> (used: [(Key, Window)], loads: [(Key, Geometry, Range<Int>)]) {
        var planned: [Key: [Range<Int>]] = [:]
        var used: [(Key, Window)] = []
        var loads: [(Key, Geometry, Range<Int>)] = []
        for (key, wanted) in Self.merged(requests) {
            let g = try geometry(key)
            var r = wanted.lowerBound
            while r < wanted.upperBound {
                if let w = windows[key]?.first(where: { $0.rows.contains(r) }) {
                    if w.lastUse != clock { used.append((key, w)) }
                    w.lastUse = clock
                    r = w.rows.upperBound
                } else if let p = planned[key]?.first(where: { $0.contains(r) }) {
                    r = p.upperBound
                } else {
                    let rows = span(key, g, from: r, through: wanted.upperBound, alsoAvoiding: planned[key] ?? [])
                    planned[key, default: []].append(rows)
                    loads.append((key, g, rows))
                    r = rows.upperBound
                }
            }
        }
        return (used, loads)
    }

    /// The rows of `requests` per tensor, overlapping or adjacent ranges joined; tensors in the
    /// order they are first asked for.
    private static func merged(_ requests: [Request]) -> [(Key, Range<Int>)] {
        var order: [Key] = []
        var ranges: [Key: [Range<Int>]] = [:]
        for q in requests where !q.rows.isEmpty {
            let key = Key(file: q.file, tensor: q.tensor)
            if ranges[key] == nil { order.append(key) }
            ranges[key, default: []].append(q.rows)
        }
        return order.flatMap { key in
            var out: [(Key, Range<Int>)] = []
            for r in ranges[key]!.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = out.last, r.lowerBound <= last.1.upperBound {
                    out[out.count - 1].1 = last.1.lowerBound..<max(last.1.upperBound, r.upperBound)
                } else {
                    out.append((key, r))
                }
            }
            return out
        }
    }

    /// Starts `loads` on the loader queues, each as a pending window filling its buffer.
    private func start(_ loads: [(Key, Geometry, Range<Int>)], _ buffers: [(buffer: UnsafeMutableRawPointer, capacity: Int)]) throws(ShardingError)
        -> [(Key, Window)]
    {
        var jobs: [Load] = []
        for ((key, g, rows), b) in zip(loads, buffers) {
            let container: any TensorContainer
            do { container = try source.container(key.file) } catch {
                for b in buffers[jobs.count...] { release(b.buffer, capacity: b.capacity, keep: true) }
                for j in jobs { release(j.buffer, capacity: j.capacity, keep: true) }
                throw error
            }
            jobs.append(Load(key: key, geometry: g, rows: rows, buffer: b.buffer, capacity: b.capacity, container: container))
        }
        var out: [(Key, Window)] = []
        for job in jobs {
            loaders[nextLoader % loaders.count].async { job.run() }
            nextLoader += 1
            let w = Window(
                rows: job.rows, buffer: job.buffer, capacity: job.capacity, bytes: job.rows.count * job.geometry.rowBytes,
                lastUse: clock, pending: job)
            insert(job.key, w)
            out.append((job.key, w))
        }
        return out
    }

    /// Waits for `w`'s load if it is still pending; a failed window is dropped and its error thrown.
    private func settle(_ key: Key, _ w: Window) throws(ShardingError) {
        guard let load = w.pending else { return }
        load.done.wait()
        w.pending = nil
        if let failure = load.failure {
            remove(key, w)
            release(w.buffer, capacity: w.capacity, keep: true)
            throw failure
        }
    }

    private func remove(_ key: Key, _ w: Window) {
        windows[key]?.removeAll { $0 === w }
        if windows[key]?.isEmpty == true { windows[key] = nil }
        residentBytes -= w.capacity
        decodedBytes -= Int64(w.bytes)
    }

    /// The windows holding rows `rows` of `tensor` in `file`, in row order, each with its rows
    /// and its first row's bytes (whole rows, row-major). Every row must lie in a window the
    /// last `prefetch` loaded or found: nothing is loaded or dropped here, so the addresses stay
    /// valid until the next `prefetch` or `retire` and may be read from several threads.
    func prefetchedWindows(_ file: ShardFile, _ tensor: TensorKey, rows: Range<Int>) throws(ShardingError) -> [(rows: Range<Int>, base: UnsafeRawPointer)] {
        let key = Key(file: file, tensor: tensor)
        var out: [(rows: Range<Int>, base: UnsafeRawPointer)] = []
        var r = rows.lowerBound
        while r < rows.upperBound {
            guard let w = windows[key]?.first(where: { $0.rows.contains(r) }), w.pending == nil, w.lastUse >= pinFrom else {
                throw .layoutMismatch("row \(r) of \(tensor) in \(source.path(file)) was not prefetched for the current block")
            }
            out.append((w.rows, UnsafeRawPointer(w.buffer)))
            r = w.rows.upperBound
        }
        return out
    }

    /// Drops the windows of `key` that hold none of the rows `kept` (the rows still to be
    /// read), keeping their buffers for the coming loads.
    func retire(_ key: Key, keeping kept: [Range<Int>] = []) {
        guard let list = windows[key] else { return }
        var left: [Window] = []
        for w in list {
            if kept.contains(where: { $0.overlaps(w.rows) }) {
                left.append(w)
                continue
            }
            w.pending?.done.wait()
            if w.pending?.failure != nil { decodedBytes -= Int64(w.bytes) }
            w.pending = nil
            residentBytes -= w.capacity
            release(w.buffer, capacity: w.capacity, keep: true)
        }
        windows[key] = left.isEmpty ? nil : left
    }

    /// The shape of `tensor` in `file`.
    func shape(_ file: ShardFile, _ tensor: TensorKey) throws(ShardingError) -> [Int] {
        try geometry(Key(file: file, tensor: tensor)).shape
    }

    private func geometry(_ key: Key) throws(ShardingError) -> Geometry {
        if let g = geometry[key] { return g }
        guard let info = source.describe(key.file, key.tensor) else {
            throw .missingTensor(path: source.path(key.file), tensor: key.tensor.description)
        }
        let rows = info.shape.first ?? 1
        let es = info.dtype.size
        // Chunks of ckpt files are runs of whole rows when chunk[0] > 1; with chunk[0] == 1 a
        // row spans one or more chunks; unchunked (0-d, empty) tensors are read whole.
        // Containers without chunks read any rows alike (1).
        let chunkRows = try source.chunkRows(key.file, key.tensor)
        let g = Geometry(
            shape: info.shape, rows: rows, elementSize: es, rowBytes: info.shape.dropFirst().reduce(1, *) * es, chunkRows: chunkRows,
            storedKey: source.storedKey(key.file, key.tensor))
        geometry[key] = g
        return g
    }

    /// The rows of a new window holding `row`, for rows wanted up to `last` (exclusive): from
    /// the chunk boundary at or before `row` to the one at or after `last`, at most about
    /// `windowBytes` of whole chunks, stopping where a cached or planned window starts. Rows
    /// nobody asked for are not decoded: a fused tensor whose parts are written in separate
    /// passes (every layer's Q, then every layer's K) has each part read once.
    private func span(_ key: Key, _ g: Geometry, from row: Int, through last: Int, alsoAvoiding planned: [Range<Int>]) -> Range<Int> {
        let start = row - row % g.chunkRows
        let chunkBytes = max(1, g.chunkRows * g.rowBytes)
        let wantedEnd = (last + g.chunkRows - 1) / g.chunkRows * g.chunkRows
        var end = min(g.rows, start + max(1, windowBytes / chunkBytes) * g.chunkRows, max(start + g.chunkRows, wantedEnd))
        for s in (windows[key] ?? []).map(\.rows.lowerBound) + planned.map(\.lowerBound) where s > start { end = min(end, s) }
        return start..<end
    }

    private func insert(_ key: Key, _ w: Window) {
        windows[key, default: []].append(w)
        residentBytes += w.capacity
        decodedBytes += Int64(w.bytes)
    }

    /// Drops least recently used windows until `needed` more bytes fit the budget (windows of
    /// the current block, used since `pinFrom`, stay; an older window still loading is waited
    /// for first), keeping their buffers for the coming loads.
    private func evict(toFit needed: Int) {
        while residentBytes + needed > budgetBytes {
            var victim: (Key, Int, Int)?
            for (k, list) in windows {
                for (i, w) in list.enumerated() where w.lastUse < pinFrom && (victim == nil || w.lastUse < victim!.2) {
                    victim = (k, i, w.lastUse)
                }
            }
            guard let (k, i, _) = victim else { break }
            let w = windows[k]!.remove(at: i)
            w.pending?.done.wait()
            if w.pending?.failure != nil { decodedBytes -= Int64(w.bytes) }
            w.pending = nil
            if windows[k]!.isEmpty { windows[k] = nil }
            residentBytes -= w.capacity
            pool.keep(w.buffer, capacity: w.capacity)
        }
    }

    /// Buffers for loads of `capacities`, spare ones where possible; resident plus spare memory
    /// stays within the budget once the loads hold theirs.
    private func buffers(_ capacities: [Int]) -> [(buffer: UnsafeMutableRawPointer, capacity: Int)] {
        pool.buffers(for: capacities, limit: budgetBytes - residentBytes)
    }

    /// Keeps a freed buffer for reuse while resident plus spare buffers fit the budget.
    private func release(_ p: UnsafeMutableRawPointer, capacity: Int, keep: Bool) {
        if keep && residentBytes + pool.spareBytes + capacity <= budgetBytes {
            pool.keep(p, capacity: capacity)
        } else {
            p.deallocate()
        }
    }
}
