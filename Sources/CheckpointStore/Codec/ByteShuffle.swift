/// HDF5's shuffle filter (id 2): the bytes of `n` elements of `size` bytes are regrouped into
/// `size` planes, plane `b` holding byte `b` of every element. Bytes past `n * size` (a chunk
/// whose length is not a multiple of the element size) are copied unchanged, as HDF5 does.
enum ByteShuffle {
    /// Shuffles `count` bytes from `src` into `dst` (which must not overlap).
    static func shuffle(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, elementSize s: Int) {
        let n = count / s
        if s <= 1 || n <= 1 {
            dst.copyMemory(from: src, byteCount: count)
            return
        }
        switch s {
        case 2: shuffle2(src, dst, n)
        case 4: shuffle4(src, dst, n)
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
        case 2: unshuffle2(src, dst, n)
        case 4: unshuffle4(src, dst, n)
        default:
            for b in 0..<s {
                let plane = src + b * n
                for i in 0..<n { dst.storeBytes(of: plane.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i * s + b, as: UInt8.self) }
            }
        }
        let tail = count - n * s
        if tail > 0 { (dst + n * s).copyMemory(from: src + n * s, byteCount: tail) }
    }

    // 4-byte elements, 8 at a time: each plane receives 8 bytes packed into one UInt64 store.
    private static func shuffle4(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v = src.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<UInt32>.self)
            let b0 = SIMD8<UInt8>(truncatingIfNeeded: v)
            let b1 = SIMD8<UInt8>(truncatingIfNeeded: v &>> 8)
            let b2 = SIMD8<UInt8>(truncatingIfNeeded: v &>> 16)
            let b3 = SIMD8<UInt8>(truncatingIfNeeded: v &>> 24)
            dst.storeBytes(of: b0, toByteOffset: i, as: SIMD8<UInt8>.self)
            dst.storeBytes(of: b1, toByteOffset: n + i, as: SIMD8<UInt8>.self)
            dst.storeBytes(of: b2, toByteOffset: 2 * n + i, as: SIMD8<UInt8>.self)
            dst.storeBytes(of: b3, toByteOffset: 3 * n + i, as: SIMD8<UInt8>.self)
            i += 8
        }
        while i < n {
            let v = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: n + i, as: UInt8.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v >> 16), toByteOffset: 2 * n + i, as: UInt8.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v >> 24), toByteOffset: 3 * n + i, as: UInt8.self)
            i += 1
        }
    }

    private static func unshuffle4(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let b0 = SIMD8<UInt32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: i, as: SIMD8<UInt8>.self))
            let b1 = SIMD8<UInt32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: n + i, as: SIMD8<UInt8>.self))
            let b2 = SIMD8<UInt32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 2 * n + i, as: SIMD8<UInt8>.self))
            let b3 = SIMD8<UInt32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 3 * n + i, as: SIMD8<UInt8>.self))
            let v = b0 | (b1 &<< 8) | (b2 &<< 16) | (b3 &<< 24)
            dst.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<UInt32>.self)
            i += 8
        }
        while i < n {
            let v =
                UInt32(src.load(fromByteOffset: i, as: UInt8.self))
                | UInt32(src.load(fromByteOffset: n + i, as: UInt8.self)) << 8
                | UInt32(src.load(fromByteOffset: 2 * n + i, as: UInt8.self)) << 16
                | UInt32(src.load(fromByteOffset: 3 * n + i, as: UInt8.self)) << 24
            dst.storeBytes(of: v, toByteOffset: 4 * i, as: UInt32.self)
            i += 1
        }
    }

    private static func shuffle2(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let v = src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)
            dst.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v), toByteOffset: i, as: SIMD16<UInt8>.self)
            dst.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v &>> 8), toByteOffset: n + i, as: SIMD16<UInt8>.self)
            i += 16
        }
        while i < n {
            let v = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: n + i, as: UInt8.self)
            i += 1
        }
    }

    private static func unshuffle2(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let lo = SIMD16<UInt16>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self))
            let hi = SIMD16<UInt16>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: n + i, as: SIMD16<UInt8>.self))
            dst.storeBytes(of: lo | (hi &<< 8), toByteOffset: 2 * i, as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < n {
            let v = UInt16(src.load(fromByteOffset: i, as: UInt8.self)) | UInt16(src.load(fromByteOffset: n + i, as: UInt8.self)) << 8
            dst.storeBytes(of: v, toByteOffset: 2 * i, as: UInt16.self)
            i += 1
        }
    }
}
