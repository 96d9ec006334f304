import Containers

/// A box of a local (per-file) tensor that holds a box of a canonical tensor.
///
/// The canonical box `canonicalBox` (the canonical tensor's rank: 1 for biases and norms, 2 for
/// weights) sits in the local tensor at `localOffsets` (the local tensor's rank, which may be
/// higher: leading local dimensions then have extent 1, as for one layer of a stacked
/// `[layers, rows, cols]` tensor). When `transposed`, the local tensor holds the canonical
/// box with its last two dimensions swapped (Hugging Face GPT-2 Conv1D weights are `[in, out]`).
public struct TensorSegment: Sendable, Hashable {
    /// The canonical tensor name.
    public var canonical: String
    /// The box of the canonical tensor.
    public var canonicalBox: TensorBox
    /// Where the box starts in the local tensor (one offset per local dimension).
    public var localOffsets: [Int]
    /// Whether the local tensor stores the box with its last two dimensions swapped.
    public var transposed: Bool

    /// Creates a segment.
    public init(canonical: String, canonicalBox: TensorBox, localOffsets: [Int], transposed: Bool = false) {
        self.canonical = canonical
        self.canonicalBox = canonicalBox
        self.localOffsets = localOffsets
        self.transposed = transposed
    }

    /// The local box holding the whole segment.
    public var localBox: TensorBox { localBox(for: canonicalBox) }

    /// The local box holding `part`, a box inside `canonicalBox`.
    public func localBox(for part: TensorBox) -> TensorBox {
        var delta = zip(part.offsets, canonicalBox.offsets).map { $0 - $1 }
        var sizes = part.sizes
        if transposed && sizes.count >= 2 {
            delta.swapAt(delta.count - 2, delta.count - 1)
            sizes.swapAt(sizes.count - 2, sizes.count - 1)
        }
        let lead = localOffsets.count - sizes.count
        var offsets = localOffsets
        var localSizes = [Int](repeating: 1, count: localOffsets.count)
        for j in 0..<sizes.count {
            offsets[lead + j] += delta[j]
            localSizes[lead + j] = sizes[j]
        }
        return TensorBox(offsets: offsets, sizes: localSizes)
    }
}
