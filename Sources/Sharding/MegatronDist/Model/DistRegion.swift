import CheckpointStore
import Containers

/// Where the elements of one rank-local tensor lie in the global tensors of a `torch_dist`
/// checkpoint.
///
/// - `pieces`: row ranges of the local tensor, each a box of one global tensor. A piece maps
///   local element (r, c1, c2, ...) with r in `rows` to global index
///   `offsets + (0 ..., r - rows.lowerBound, c1, c2, ...)`, the leading `prefix` global
///   dimensions being size-1 axes (the stacked layer axis). Column- and row-parallel shards are
///   one piece; SwiGLU's `linear_fc1` (`[W_r; V_r]` per rank, `[W_all; V_all]` globally) is two.
/// - `flat`: the local tensor is `count` consecutive elements of a 1-D global tensor from
///   `start`, reshaped row-major (a parameter's range of a `dp_reshardable` bucket).
public enum DistRegion: Sendable, Hashable {
    /// Row pieces of global tensors.
    case pieces([Piece])
    /// A run of a flat global tensor.
    case flat(fqn: String, start: Int)

    /// A row range of a local tensor and the global box it comes from.
    public struct Piece: Sendable, Hashable {
        /// The global tensor.
        public var fqn: String
        /// Local rows (dimension 0) it covers.
        public var rows: Range<Int>
        /// Global index of local element (rows.lowerBound, 0, 0, ...).
        public var offsets: [Int]
        /// Leading size-1 global dimensions the local tensor does not have.
        public var prefix: Int

        /// Creates a piece.
        public init(fqn: String, rows: Range<Int>, offsets: [Int], prefix: Int) {
            self.fqn = fqn
            self.rows = rows
            self.offsets = offsets
            self.prefix = prefix
        }
    }

    /// The global tensors it reads.
    public var fqns: [String] {
        switch self {
        case .pieces(let p):
            var out: [String] = []
            for x in p where !out.contains(x.fqn) { out.append(x.fqn) }
            return out
        case .flat(let f, _): return [f]
        }
    }

    /// Reads `box` of a local tensor of shape `shape` and element size `elementSize` from
    /// `store` into `buffer` (row-major over the box).
    func read(
        box: TensorBox, shape: [Int], elementSize: Int, from store: any DistCheckpointStore, into buffer: UnsafeMutableRawBufferPointer
    ) throws(ContainerError) {
        guard box.fits(shape) else {
            throw .badTensor(path: store.path, tensor: fqns.joined(separator: "+"), detail: "box \(box) lies outside shape \(shape)")
        }
        if box.count == 0 { return }
        switch self {
        case .pieces(let pieces):
            try Self.readPieces(pieces, box: box, shape: shape, elementSize: elementSize, store: store, buffer: buffer)
        case .flat(let fqn, let start):
            try Self.readFlat(fqn, start: start, box: box, shape: shape, elementSize: elementSize, store: store, buffer: buffer)
        }
    }

    private static func readPieces(
        _ pieces: [Piece], box: TensorBox, shape: [Int], elementSize: Int, store: any DistCheckpointStore, buffer: UnsafeMutableRawBufferPointer
    ) throws(ContainerError) {
        if shape.isEmpty {
            guard let p = pieces.first else { throw .noSuchTensor(path: store.path, tensor: "(scalar)") }
            let sub = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<elementSize])
            try store.read(p.fqn, box: TensorBox(offsets: p.offsets, sizes: p.offsets.map { _ in 1 }), into: sub)
            return
        }
        let rowElements = box.sizes.dropFirst().reduce(1, *)
        let wanted = box.offsets[0]..<box.offsets[0] + box.sizes[0]
        var covered = 0
        for p in pieces {
            let lo = max(wanted.lowerBound, p.rows.lowerBound), hi = min(wanted.upperBound, p.rows.upperBound)
            guard hi > lo else { continue }
            var offsets = p.offsets
            var sizes = Array(repeating: 1, count: p.prefix)
            offsets[p.prefix] += lo - p.rows.lowerBound
            sizes.append(hi - lo)
            for d in 1..<shape.count {
                offsets[p.prefix + d] += box.offsets[d]
                sizes.append(box.sizes[d])
            }
            let start = (lo - wanted.lowerBound) * rowElements * elementSize
            let end = start + (hi - lo) * rowElements * elementSize
            try store.read(p.fqn, box: TensorBox(offsets: offsets, sizes: sizes), into: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<end]))
            covered += hi - lo
        }
        guard covered == wanted.count else {
            throw .badTensor(
                path: store.path, tensor: pieces.first?.fqn ?? "?", detail: "rows \(wanted) of the local tensor are not all mapped to global chunks")
        }
    }

    private static func readFlat(
        _ fqn: String, start: Int, box: TensorBox, shape: [Int], elementSize: Int, store: any DistCheckpointStore,
        buffer: UnsafeMutableRawBufferPointer
    ) throws(ContainerError) {
        // Row-major runs of the box that are contiguous in the flat tensor: the innermost
        // dimensions taken whole join the run.
        let rank = shape.count
        var strides = Array(repeating: 1, count: rank)
        if rank > 1 { for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] } }
        var run = 1
        var d = rank - 1
        while d >= 0 {
            run *= box.sizes[d]
            if box.sizes[d] != shape[d] { break }
            d -= 1
        }
        let outer = max(d, 0)  // dimensions 0..<outer are walked index by index
        let outerSizes = Array(box.sizes[0..<outer])
        var index = Array(repeating: 0, count: outer)
        var written = 0
        let runBytes = run * elementSize
        while true {
            var linear = start
            for k in 0..<rank {
                let i = k < outer ? box.offsets[k] + index[k] : box.offsets[k]
                linear += i * strides[k]
            }
            let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[written..<written + runBytes])
            try store.read(fqn, box: TensorBox(offsets: [linear], sizes: [run]), into: dst)
            written += runBytes
            var k = outer - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < outerSizes[k] { break }
                index[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }
}
