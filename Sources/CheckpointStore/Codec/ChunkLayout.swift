/// The chunk shape rule of format v1 and chunk-grid arithmetic.
///
/// With `E = max(1, chunkBytes / elementSize)` target elements, `d` is the first dimension whose
/// trailing product `prod(shape[d+1...]) <= E`; the chunk is 1 along dimensions before `d`,
/// `min(shape[d], max(1, E / prod(shape[d+1...])))` along `d`, and whole along the rest. Every
/// chunk is therefore one contiguous range of the C-order flat array (edge chunks are padded).
struct ChunkLayout: Sendable, Equatable {
    /// Tensor shape.
    let shape: [Int]
    /// Chunk shape (same rank).
    let chunk: [Int]

    /// Applies the format-v1 rule.
    init(shape: [Int], elementSize: Int, chunkBytes: Int) {
        self.shape = shape
        let target = max(1, chunkBytes / elementSize)
        var chunk = shape
        var inner = 1
        var d = shape.count - 1
        // inner = prod(shape[d+1...]); find the first d from the left with inner(d) <= target.
        var innerProducts = [Int](repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 1, through: 0, by: -1) {
            innerProducts[k] = inner
            inner *= shape[k]
        }
        d = innerProducts.firstIndex(where: { $0 <= target }) ?? (shape.count - 1)
        for k in 0..<shape.count {
            if k < d { chunk[k] = 1 } else if k == d { chunk[k] = min(shape[k], max(1, target / innerProducts[k])) } else { chunk[k] = shape[k] }
        }
        self.chunk = chunk
    }

    /// Uses an existing chunk shape (files written by other tools).
    init(shape: [Int], chunk: [Int]) {
        self.shape = shape
        self.chunk = chunk
    }

    /// Elements per (padded) chunk.
    var chunkElements: Int { chunk.reduce(1, *) }

    /// Chunks along each dimension.
    var grid: [Int] { zip(shape, chunk).map { ($0 + $1 - 1) / $1 } }

    /// Whether every chunk is a contiguous range of the flat C-order array (the rule above,
    /// or any chunking of that form), so chunk `k` in grid order covers elements
    /// `[flatStart(k), flatStart(k) + validElements(k))`.
    var isFlatContiguous: Bool {
        guard let d = chunk.firstIndex(where: { $0 > 1 }) ?? (chunk.isEmpty ? nil : chunk.count - 1) else { return true }
        for k in (d + 1)..<chunk.count where chunk[k] != shape[k] { return false }
        return true
    }

    /// Element coordinates of the origin of the chunk with grid index `g`.
    func origin(_ g: [Int]) -> [Int] { zip(g, chunk).map { $0 * $1 } }
}
