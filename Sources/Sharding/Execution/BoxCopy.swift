import Containers

/// Copies the elements of a plan piece between dense row-major arrays: a box of a source array
/// into a box of a destination array holding the same elements (see `PlanPiece`: equal core
/// extents, the last two swapped when transposed). The caller has checked that both boxes lie
/// inside their arrays.
public enum BoxCopy {
    /// Copies `sourceBox` of the array of shape `sourceShape` at `source` into `destBox` of the
    /// array of shape `destShape` at `dest`; element size `elementSize` bytes. Runs contiguous
    /// in both arrays move with one `memcpy`; a transposed copy walks tiles of 32 x 32.
    public static func copy(
        from source: UnsafeRawPointer, shape sourceShape: [Int], box sourceBox: TensorBox,
        to dest: UnsafeMutableRawPointer, shape destShape: [Int], box destBox: TensorBox,
        transposed: Bool, elementSize es: Int
    ) {
        let k = min(sourceBox.offsets.count, destBox.offsets.count)
        let ss = strides(sourceShape), ds = strides(destShape)
        var sBase = 0, dBase = 0
        for d in 0..<sourceBox.offsets.count { sBase += sourceBox.offsets[d] * ss[d] }
        for d in 0..<destBox.offsets.count { dBase += destBox.offsets[d] * ds[d] }
        // Core extents in output order, and the source stride of each output core dimension.
        var sizes = Array(destBox.sizes.suffix(k))
        var dStride = Array(ds.suffix(k))
        var sStride = Array(ss.suffix(k))
        if transposed && k >= 2 { sStride.swapAt(k - 2, k - 1) }
        if sizes.contains(0) { return }
        // Drop dimensions of extent 1; merge a dimension into the next inner one where both
        // arrays are contiguous across it.
        var m = 0
        for c in 0..<sizes.count where sizes[c] != 1 {
            sizes[m] = sizes[c]
            dStride[m] = dStride[c]
            sStride[m] = sStride[c]
            m += 1
        }
        sizes.removeLast(sizes.count - m)
        dStride.removeLast(dStride.count - m)
        sStride.removeLast(sStride.count - m)
        var c = sizes.count - 1
        while c > 0 {
            if dStride[c - 1] == dStride[c] * sizes[c] && sStride[c - 1] == sStride[c] * sizes[c] {
                sizes[c] *= sizes[c - 1]
                sizes.remove(at: c - 1)
                dStride.remove(at: c - 1)
                sStride.remove(at: c - 1)
            }
            c -= 1
        }
        let src = source + sBase * es, dst = dest + dBase * es
        guard let inner = sizes.indices.last else {
            dst.copyMemory(from: src, byteCount: es)
            return
        }
        if sStride[inner] == 1 && dStride[inner] == 1 {
            let run = sizes[inner] * es
            forEachOuter(sizes, sStride, dStride, outer: inner) { so, do_ in
                (dst + do_ * es).copyMemory(from: src + so * es, byteCount: run)
            }
            return
        }
        // A transposed (or otherwise strided) innermost dimension: tile the last two dimensions.
        let rows = inner >= 1 ? sizes[inner - 1] : 1
        let cols = sizes[inner]
        let sr = inner >= 1 ? sStride[inner - 1] : 0, dr = inner >= 1 ? dStride[inner - 1] : 0
        let sc = sStride[inner], dc = dStride[inner]
        forEachOuter(sizes, sStride, dStride, outer: max(0, inner - 1)) { so, do_ in
            tile(src + so * es, dst + do_ * es, rows: rows, cols: cols, sr: sr, sc: sc, dr: dr, dc: dc, es: es)
        }
    }

    /// Row-major element strides of `shape`.
    public static func strides(_ shape: [Int]) -> [Int] {
        var out = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            out[d] = s
            s *= shape[d]
        }
        return out
    }

    /// Calls `body` with the source and destination element offsets of every index of the
    /// dimensions `0..<outer`.
    private static func forEachOuter(_ sizes: [Int], _ ss: [Int], _ ds: [Int], outer: Int, _ body: (Int, Int) -> Void) {
        if outer == 0 {
            body(0, 0)
            return
        }
        var index = [Int](repeating: 0, count: outer)
        var so = 0, do_ = 0
        while true {
            body(so, do_)
            var d = outer - 1
            while d >= 0 {
                index[d] += 1
                so += ss[d]
                do_ += ds[d]
                if index[d] < sizes[d] { break }
                so -= ss[d] * index[d]
                do_ -= ds[d] * index[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    /// dst[r * dr + c * dc] = src[r * sr + c * sc] for r < rows, c < cols, in 32 x 32 tiles.
    private static func tile(
        _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, rows: Int, cols: Int, sr: Int, sc: Int, dr: Int, dc: Int, es: Int
    ) {
        switch es {
        case 1: tileTyped(UInt8.self, src, dst, rows, cols, sr, sc, dr, dc)
        case 2: tileTyped(UInt16.self, src, dst, rows, cols, sr, sc, dr, dc)
        case 4: tileTyped(UInt32.self, src, dst, rows, cols, sr, sc, dr, dc)
        case 8: tileTyped(UInt64.self, src, dst, rows, cols, sr, sc, dr, dc)
        default:
            for r in 0..<rows {
                for c in 0..<cols { (dst + (r * dr + c * dc) * es).copyMemory(from: src + (r * sr + c * sc) * es, byteCount: es) }
            }
        }
    }

    private static func tileTyped<T: FixedWidthInteger>(
        _: T.Type, _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ rows: Int, _ cols: Int, _ sr: Int, _ sc: Int, _ dr: Int,
        _ dc: Int
    ) {
        let es = MemoryLayout<T>.size
        let t = 32
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + t)
            var c0 = 0
            while c0 < cols {
                let c1 = min(cols, c0 + t)
                for c in c0..<c1 {
                    for r in r0..<r1 {
                        let v = src.loadUnaligned(fromByteOffset: (r * sr + c * sc) * es, as: T.self)
                        dst.storeBytes(of: v, toByteOffset: (r * dr + c * dc) * es, as: T.self)
                    }
                }
                c0 = c1
            }
            r0 = r1
        }
    }
}
