/// Little-endian reads from a byte array, each bounds-checked: a read past the end returns nil
/// instead of trapping.
struct ZipByteCursor {
    let bytes: [UInt8]
    /// The next byte to read.
    var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Bytes left after `position`.
    var remaining: Int { bytes.count - position }

    /// Reads an unsigned little-endian integer of `width` bytes.
    mutating func uint(_ width: Int) -> UInt64? {
        guard width <= 8, position >= 0, remaining >= width else { return nil }
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += width
        return v
    }

    mutating func u16() -> UInt16? { uint(2).map { UInt16($0) } }
    mutating func u32() -> UInt32? { uint(4).map { UInt32($0) } }
    mutating func u64() -> UInt64? { uint(8) }

    /// The next `count` bytes.
    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, position >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// Reads a u32 at an absolute position without moving.
    func u32(at p: Int) -> UInt32? {
        var c = self
        c.position = p
        return c.u32()
    }
}
