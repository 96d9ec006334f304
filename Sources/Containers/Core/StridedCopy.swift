/// Copies a box out of an N-d strided array in memory (the layout of a `torch.save` storage or a
/// safetensors buffer) into a dense row-major buffer.
public enum StridedCopy {
    /// Copies `box` of an array of shape `shape` whose element (i0, i1, ...) lives at byte
    /// `base + elementSize * (offset + sum(i_d * strides[d]))` into `out` (dense, row-major over
    /// the box). Runs of elements contiguous in the source are moved with one `memcpy`.
    /// The caller has checked that every addressed byte lies inside the source.
    public static func copy(
        from base: UnsafeRawPointer, elementSize: Int, offset: Int, shape: [Int], strides: [Int],
        box: TensorBox, into out: UnsafeMutableRawPointer
    ) {
        let rank = box.sizes.count
        precondition(shape.count == rank && strides.count == rank, "shape, strides and box differ in rank")
        if box.count == 0 { return }
        if rank == 0 {
            out.copyMemory(from: base + offset * elementSize, byteCount: elementSize)
            return
        }
        // The innermost dimensions that are contiguous in the source form one run; a dimension
        // joins only when every dimension inside it is selected whole.
        var runElements = 1
        var d = rank - 1
        if strides[rank - 1] == 1 {
            runElements = box.sizes[rank - 1]
            var span = shape[rank - 1]
            var whole = box.sizes[rank - 1] == shape[rank - 1]
            d = rank - 2
            while d >= 0 && whole && strides[d] == span {
                runElements *= box.sizes[d]
                whole = box.sizes[d] == shape[d]
                span *= shape[d]
                d -= 1
            }
        }
        let outer = d + 1  // dimensions 0..<outer are walked one index at a time
        let runBytes = runElements * elementSize
        var start = offset
        for k in 0..<rank { start += box.offsets[k] * strides[k] }
        if outer == 0 {
            out.copyMemory(from: base + start * elementSize, byteCount: runBytes)
            return
        }
        var index = Array(repeating: 0, count: outer)
        var dst = out
        var e = start
        while true {
            dst.copyMemory(from: base + e * elementSize, byteCount: runBytes)
            dst += runBytes
            var k = outer - 1
            while k >= 0 {
                index[k] += 1
                e += strides[k]
                if index[k] < box.sizes[k] { break }
                e -= strides[k] * index[k]
                index[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }
}
