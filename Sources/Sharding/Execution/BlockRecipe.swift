import CheckpointStore
import Containers

/// One row block of an output tensor (one section), resolved against the source windows of the
/// current round (`SourceWindowCache.prefetchedWindows`): the box copies that fill it and, when
/// every copy moves one contiguous run of bytes (whole rows of the window into whole rows of the
/// block, no transpose), the same block as a list of byte runs, written to the output straight
/// from the windows instead of being assembled in a block buffer first.
///
/// Running a recipe only reads windows and writes the caller's block buffer, so the recipes of
/// one round run on several threads at once. `@unchecked Sendable`: the window addresses it holds
/// stay valid and unchanged until the cache's next `prefetch` or `retire`, which only come after
/// the round.
struct BlockRecipe: @unchecked Sendable {
    /// One box of a window copied into the block.
    struct Copy {
        /// The window's first row.
        var source: UnsafeRawPointer
        /// The window's shape (its rows, then the source tensor's other dimensions).
        var sourceShape: [Int]
        var sourceBox: TensorBox
        /// The box of the block (rows counted from the block's first row).
        var destBox: TensorBox
        var transposed: Bool
    }

    /// A piece of the block's bytes, in order.
    enum Run {
        /// Bytes of a window.
        case bytes(UnsafeRawPointer, Int)
        /// Zero bytes (padding rows).
        case zeros(Int)
    }

    /// Bytes of the block as written (the target's element type).
    let byteCount: Int
    /// The block's shape: its rows, then the output tensor's other dimensions.
    let blockShape: [Int]
    /// Bytes per element of the copied (source) data.
    let elementSize: Int
    let copies: [Copy]
    /// Whether the copies write every element of the block (no zeroing needed first).
    let coversBlock: Bool
    /// The 16-bit float type the copied data is widened from into float32, if any.
    let widenedFrom: DType?
    /// The block as byte runs, when it is made of contiguous runs of at least `minimumRunBytes`
    /// on average; otherwise nil and the block is filled from `copies`.
    let runs: [Run]?

    /// Runs shorter than this on average are copied into the block instead: one write per run
    /// would cost more than the copy saves.
    static let minimumRunBytes = 4096

    /// A recipe for a block of shape `blockShape` written as `byteCount` bytes.
    init(byteCount: Int, blockShape: [Int], elementSize: Int, copies: [Copy], coversBlock: Bool, widenedFrom: DType?) {
        self.byteCount = byteCount
        self.blockShape = blockShape
        self.elementSize = elementSize
        self.copies = copies
        self.coversBlock = coversBlock
        self.widenedFrom = widenedFrom
        runs = widenedFrom == nil ? Self.runs(copies, blockShape: blockShape, elementSize: elementSize, byteCount: byteCount) : nil
    }

    /// Writes the block into `block` (at least `byteCount` bytes).
    func fill(into block: UnsafeMutableRawPointer) {
        guard let from = widenedFrom else { return copy(into: block) }
        let n = byteCount / 4
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, n * 2), alignment: 64)
        defer { scratch.deallocate() }
        copy(into: scratch)
        // Bit patterns, not Float values, are stored: a bfloat16 NaN keeps its payload.
        let bf16 = from == .bfloat16
        for i in 0..<n {
            let h = UInt16(littleEndian: scratch.load(fromByteOffset: 2 * i, as: UInt16.self))
            let w = bf16 ? UInt32(h) << 16 : HalfPrecision.float(fromF16: h).bitPattern
            block.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
        }
    }

    /// Appends the block to `sink`: its runs straight from the windows, or else the block
    /// filled into `block` (at least `byteCount` bytes, also used for zero runs).
    func write(to sink: any TensorByteSink, block: UnsafeMutableRawPointer) throws(ContainerError) {
        guard let runs else {
            fill(into: block)
            return try sink.append(UnsafeRawBufferPointer(start: block, count: byteCount))
        }
        for run in runs {
            switch run {
            case .bytes(let p, let n): try sink.append(UnsafeRawBufferPointer(start: p, count: n))
            case .zeros(let n):
                block.initializeMemory(as: UInt8.self, repeating: 0, count: n)
                try sink.append(UnsafeRawBufferPointer(start: block, count: n))
            }
        }
    }

    /// The copies into `out` (elements of `elementSize` bytes), zeroed first unless they cover it.
    private func copy(into out: UnsafeMutableRawPointer) {
        if !coversBlock { out.initializeMemory(as: UInt8.self, repeating: 0, count: blockShape.reduce(1, *) * elementSize) }
        for c in copies {
            BoxCopy.copy(
                from: c.source, shape: c.sourceShape, box: c.sourceBox, to: out, shape: blockShape, box: c.destBox,
                transposed: c.transposed, elementSize: elementSize)
        }
    }

    /// The copies as byte runs in block order with zero runs in the gaps, or nil when one is
    /// not contiguous on both sides, they overlap, or they are too short on average.
    private static func runs(_ copies: [Copy], blockShape: [Int], elementSize es: Int, byteCount: Int) -> [Run]? {
        var spans: [(dest: Int, source: UnsafeRawPointer, count: Int)] = []
        for c in copies {
            guard !c.transposed, let s = contiguousRange(c.sourceBox, in: c.sourceShape),
                let d = contiguousRange(c.destBox, in: blockShape), s.count == d.count
            else { return nil }
            spans.append((d.lowerBound * es, c.source + s.lowerBound * es, d.count * es))
        }
        spans.sort { $0.dest < $1.dest }
        var out: [Run] = []
        var cursor = 0
        for s in spans {
            if s.dest < cursor { return nil }
            if s.dest > cursor { out.append(.zeros(s.dest - cursor)) }
            out.append(.bytes(s.source, s.count))
            cursor = s.dest + s.count
        }
        if cursor > byteCount { return nil }
        if cursor < byteCount { out.append(.zeros(byteCount - cursor)) }
        return out.count * minimumRunBytes <= max(byteCount, minimumRunBytes) ? out : nil
    }

    /// The elements of `box` as one range of the row-major array of shape `shape`, or nil when
    /// they are not consecutive: every dimension before the first one with more than one index
    /// must have one, every dimension after it must be whole.
    static func contiguousRange(_ box: TensorBox, in shape: [Int]) -> Range<Int>? {
        guard box.offsets.count == shape.count, box.count > 0 else { return nil }
        let first = box.sizes.firstIndex { $0 != 1 } ?? shape.count
        if first + 1 < shape.count {
            for d in (first + 1)..<shape.count where box.sizes[d] != shape[d] { return nil }
        }
        let strides = BoxCopy.strides(shape)
        var start = 0
        for d in 0..<shape.count { start += box.offsets[d] * strides[d] }
        return start..<start + box.count
    }
}
