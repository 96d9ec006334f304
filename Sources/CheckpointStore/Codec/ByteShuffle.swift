import CChunkKernels

/// HDF5's shuffle filter (id 2): the bytes of `n` elements of `size` bytes are regrouped into
/// `size` planes, plane `b` holding byte `b` of every element. Bytes past `n * size` (a chunk
/// whose length is not a multiple of the element size) are copied unchanged, as HDF5 does.
/// 2- and 4-byte elements go through `CChunkKernels` (AVX2 where the CPU has it).
enum ByteShuffle {
    /// Shuffles `count` bytes from `src` into `dst` (which must not overlap).
    static func shuffle(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, elementSize s: Int) {
        let n = count / s
        if s <= 1 || n <= 1 {
            dst.copyMemory(from: src, byteCount: count)
            return
        }
        switch s {
        case 2: ckpt_shuffle2(src, dst, n)
        case 4: ckpt_shuffle4(src, dst, n)
        default:
            for b in 0..<s {
                let plane = dst + b * n
                for i in 0..<n { plane.storeBytes(of: src.load(fromByteOffset: i * s + b, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
            }
        }
        let tail = count - n * s
        if tail > 0 { (dst + n * s).copyMemory(from: src + n * s, byteCount: tail) }
    }

    /// Reverses `shuffle`.
    static func unshuffle(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, elementSize s: Int) {
        let n = count / s
        if s <= 1 || n <= 1 {
            dst.copyMemory(from: src, byteCount: count)
            return
        }
        switch s {
        case 2: ckpt_unshuffle2(src, dst, n)
        case 4: ckpt_unshuffle4(src, dst, n)
        default:
            for b in 0..<s {
                let plane = src + b * n
                for i in 0..<n { dst.storeBytes(of: plane.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i * s + b, as: UInt8.self) }
            }
        }
        let tail = count - n * s
        if tail > 0 { (dst + n * s).copyMemory(from: src + n * s, byteCount: tail) }
    }
}
