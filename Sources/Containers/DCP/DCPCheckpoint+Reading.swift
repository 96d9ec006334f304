/// The resharding read: a box of a global tensor assembled from the chunks it meets.
extension DCPCheckpoint {
    /// Copies `box` of tensor `t` into `buffer` (row-major over the box, little-endian): each
    /// chunk meeting the box contributes its intersection, read straight into place when that
    /// is contiguous in the output, else through a scratch buffer of at most `DCPLimits.maxScratchBytes`.
    public func read(_ t: DCPTensorEntry, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer) throws(ContainerError) {
        let name = PrintableName.of(t.fqn)
        guard let dtype = t.dtype else {
            throw .badTensor(path: path, tensor: name, detail: "dtype \(t.torchDType) has no ckpt equivalent; it cannot be read")
        }
        guard box.offsets.count == t.shape.count, box.fits(t.shape) else {
            throw .badTensor(path: path, tensor: name, detail: "box \(box) lies outside the shape \(t.shape)")
        }
        let es = dtype.size
        let (bytes, o) = box.count.multipliedReportingOverflow(by: es)
        guard !o, buffer.count >= bytes else {
            throw .badTensor(path: path, tensor: name, detail: "a buffer of \(buffer.count) bytes for a box of \(box.count) \(dtype.rawValue) elements")
        }
        guard bytes > 0, let out = buffer.baseAddress else { return }
        let rank = box.sizes.count
        for c in t.chunks {
            guard let meet = Self.intersection(box, c.box) else { continue }
            let item = try chunkItem(t, c)
            guard let ref = item.tensor else { continue }
            var local = meet, at = meet.offsets
            for d in 0..<rank {
                local.offsets[d] -= c.box.offsets[d]
                at[d] -= box.offsets[d]
            }
            if Self.isContiguous(meet.sizes, in: box.sizes, at: at) {
                var start = 0, step = 1
                for d in stride(from: rank - 1, through: 0, by: -1) {
                    start += at[d] * step
                    step *= box.sizes[d]
                }
                let dst = UnsafeMutableRawBufferPointer(start: out + start * es, count: meet.count * es)
                try item.archive.read(ref, box: local, into: dst, name: t.fqn)
                continue
            }
            try readScattered(item.archive, ref, fqn: t.fqn, local: local, at: at, outer: box.sizes, es: es, into: out)
        }
    }

    /// Reads `local` of the chunk into scratch pieces (split along the outermost dimension
    /// with more than one index) and scatters each into the output at `at`.
    func readScattered(
        _ archive: TorchArchive, _ ref: TorchTensorRef, fqn: String, local: TensorBox, at: [Int], outer: [Int], es: Int,
        into out: UnsafeMutableRawPointer
    ) throws(ContainerError) {
        let bytes = local.count * es
        if bytes <= limits.maxScratchBytes || local.sizes.allSatisfy({ $0 <= 1 }) {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            defer { scratch.deallocate() }
            try archive.read(ref, box: local, into: scratch, name: fqn)
            if let base = scratch.baseAddress {
                DCPScatter.copy(from: UnsafeRawPointer(base), sizes: local.sizes, into: out, outer: outer, at: at, elementSize: es)
            }
            return
        }
        guard let d = local.sizes.firstIndex(where: { $0 > 1 }) else { return }
        let half = local.sizes[d] / 2
        var first = local, second = local, secondAt = at
        first.sizes[d] = half
        second.offsets[d] += half
        second.sizes[d] -= half
        secondAt[d] += half
        try readScattered(archive, ref, fqn: fqn, local: first, at: at, outer: outer, es: es, into: out)
        try readScattered(archive, ref, fqn: fqn, local: second, at: secondAt, outer: outer, es: es, into: out)
    }

    /// The common part of two boxes of one rank, or nil when it holds no element.
    static func intersection(_ a: TensorBox, _ b: TensorBox) -> TensorBox? {
        var o: [Int] = [], s: [Int] = []
        for d in 0..<a.offsets.count {
            let lo = max(a.offsets[d], b.offsets[d]), hi = min(a.offsets[d] + a.sizes[d], b.offsets[d] + b.sizes[d])
            if hi <= lo { return nil }
            o.append(lo)
            s.append(hi - lo)
        }
        return TensorBox(offsets: o, sizes: s)
    }

    /// Whether a block of `sizes` at `at` inside a dense box of shape `outer` is one contiguous
    /// run of it: leading dimensions of size 1, then one partial dimension, then whole ones.
    static func isContiguous(_ sizes: [Int], in outer: [Int], at: [Int]) -> Bool {
        var d = sizes.count - 1
        while d >= 0 && sizes[d] == outer[d] { d -= 1 }
        // d is the innermost dimension not taken whole; every one outside it must be size 1.
        if d <= 0 { return true }
        for k in 0..<d where sizes[k] != 1 { return false }
        return true
    }
}
