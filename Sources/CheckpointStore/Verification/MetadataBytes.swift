/// The byte string of the metadata serialisation being built: one-letter record tags,
/// little-endian 64-bit integers and length-prefixed byte strings.
struct MetadataBytes {
    private(set) var bytes: [UInt8]

    init(_ prefix: [UInt8]) { bytes = prefix }

    /// A one-byte record tag (`O`, `S`, `A`, `D`, `s`, `i`, `u`, `f`, `?`).
    mutating func tag(_ t: Unicode.Scalar) { bytes.append(UInt8(t.value)) }

    /// An unsigned 64-bit little-endian integer.
    mutating func u64(_ v: UInt64) {
        for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }

    /// A byte string: its length as `u64`, then the bytes.
    mutating func string(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
}
