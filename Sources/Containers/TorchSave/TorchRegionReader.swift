/// Gathers a box of a strided view out of one storage record: a box contiguous in the storage
/// is read straight into the output; otherwise the byte range it spans is read into a scratch
/// buffer and copied with `StridedCopy`, the box split in halves until a range fits the scratch
/// limit. The caller has checked that the view lies inside the record.
struct TorchRegionReader {
    let zip: ZipArchive
    let entry: ZipEntry
    let elementSize: Int
    let strides: [Int]
    /// Largest range read at once for a non-contiguous box.
    var scratchLimit = 16 << 20

    func read(offset: Int, box: TensorBox, into out: UnsafeMutableRawPointer) throws(ContainerError) {
        let rank = box.sizes.count
        var lo = offset, hi = offset
        for d in 0..<rank {
            lo += box.offsets[d] * strides[d]
            hi += (box.offsets[d] + box.sizes[d] - 1) * strides[d]
        }
        let outBytes = box.count * elementSize
        if isContiguous(box) {
            try zip.read(entry, at: lo * elementSize, into: UnsafeMutableRawBufferPointer(start: out, count: outBytes))
            return
        }
        let span = (hi - lo + 1) * elementSize
        if span <= scratchLimit || box.count == 1 {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: span, alignment: 64)
            defer { scratch.deallocate() }
            try zip.read(entry, at: lo * elementSize, into: scratch)
            if let base = scratch.baseAddress {
                StridedCopy.copy(
                    from: UnsafeRawPointer(base), elementSize: elementSize, offset: 0, shape: box.sizes, strides: strides,
                    box: .whole(box.sizes), into: out)
            }
            return
        }
        // Split the outermost dimension with more than one index: both halves are contiguous
        // in the output because every dimension outside it has size 1.
        guard let d = box.sizes.firstIndex(where: { $0 > 1 }) else { return }
        let half = box.sizes[d] / 2
        var first = box, second = box
        first.sizes[d] = half
        second.offsets[d] += half
        second.sizes[d] -= half
        try read(offset: offset, box: first, into: out)
        try read(offset: offset, box: second, into: out + first.count * elementSize)
    }

    /// Whether the box's elements, row-major, are consecutive in the storage.
    func isContiguous(_ box: TensorBox) -> Bool {
        var expected = 1
        for d in stride(from: box.sizes.count - 1, through: 0, by: -1) where box.sizes[d] != 1 {
            if strides[d] != expected { return false }
            expected *= box.sizes[d]
        }
        return true
    }
}
