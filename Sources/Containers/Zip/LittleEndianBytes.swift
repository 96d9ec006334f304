/// Little-endian appends for the zip and pickle writers.
extension [UInt8] {
    /// Appends a little-endian u16.
    mutating func le16(_ v: UInt16) {
        append(UInt8(v & 0xFF))
        append(UInt8(v >> 8))
    }

    /// Appends a little-endian u32.
    mutating func le32(_ v: UInt32) {
        for i in 0..<4 { append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) }
    }

    /// Appends a little-endian u64.
    mutating func le64(_ v: UInt64) {
        for i in 0..<8 { append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) }
    }
}
