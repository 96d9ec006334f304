/// Builds zip archives byte by byte for tests, independently of `ZipStreamWriter`: local
/// headers with sizes (or a data descriptor), a central directory, optionally Zip64 end records.
struct HandZip {
    struct Entry {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var descriptor = false
        var localExtra: [UInt8] = []
        var localName: String?
    }

    /// The archive and where its parts start.
    struct Built {
        var bytes: [UInt8]
        var centralDirectory: Int
        var endRecord: Int
        var zip64Record: Int?
        var headers: [Int]
    }

    static func crc(_ b: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in b {
            c ^= UInt32(x)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func build(_ entries: [Entry], zip64: Bool = false, comment: [UInt8] = []) -> Built {
        var out: [UInt8] = []
        var headers: [Int] = []
        func le(_ v: UInt64, _ n: Int) { for i in 0..<n { out.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
        for e in entries {
            headers.append(out.count)
            let name = Array((e.localName ?? e.name).utf8)
            le(0x0403_4b50, 4)
            le(20, 2)
            le(e.descriptor ? 0x08 : 0, 2)
            le(UInt64(e.method), 2)
            le(0, 4)
            le(e.descriptor ? 0 : UInt64(crc(e.data)), 4)
            le(e.descriptor ? 0 : UInt64(e.data.count), 4)
            le(e.descriptor ? 0 : UInt64(e.data.count), 4)
            le(UInt64(name.count), 2)
            le(UInt64(e.localExtra.count), 2)
            out += name + e.localExtra + e.data
            if e.descriptor {
                le(0x0807_4b50, 4)
                le(UInt64(crc(e.data)), 4)
                le(UInt64(e.data.count), 4)
                le(UInt64(e.data.count), 4)
            }
        }
        let cd = out.count
        for (e, h) in zip(entries, headers) {
            let name = Array(e.name.utf8)
            le(0x0201_4b50, 4)
            le(20, 2)
            le(20, 2)
            le(e.descriptor ? 0x08 : 0, 2)
            le(UInt64(e.method), 2)
            le(0, 4)
            le(UInt64(crc(e.data)), 4)
            le(UInt64(e.data.count), 4)
            le(UInt64(e.data.count), 4)
            le(UInt64(name.count), 2)
            le(0, 2)
            le(0, 2)
            le(0, 2)
            le(0, 2)
            le(0, 4)
            le(UInt64(h), 4)
            out += name
        }
        let cdSize = out.count - cd
        var z64: Int?
        if zip64 {
            z64 = out.count
            le(0x0606_4b50, 4)
            le(44, 8)
            le(45, 2)
            le(45, 2)
            le(0, 4)
            le(0, 4)
            le(UInt64(entries.count), 8)
            le(UInt64(entries.count), 8)
            le(UInt64(cdSize), 8)
            le(UInt64(cd), 8)
            le(0x0706_4b50, 4)
            le(0, 4)
            le(UInt64(z64!), 8)
            le(1, 4)
        }
        let eocd = out.count
        le(0x0605_4b50, 4)
        le(0, 2)
        le(0, 2)
        le(zip64 ? 0xFFFF : UInt64(entries.count), 2)
        le(zip64 ? 0xFFFF : UInt64(entries.count), 2)
        le(zip64 ? 0xFFFF_FFFF : UInt64(cdSize), 4)
        le(zip64 ? 0xFFFF_FFFF : UInt64(cd), 4)
        le(UInt64(comment.count), 2)
        out += comment
        return Built(bytes: out, centralDirectory: cd, endRecord: eocd, zip64Record: z64, headers: headers)
    }
}

extension [UInt8] {
    /// Overwrites `width` bytes at `at` with `v`, little-endian.
    mutating func patch(_ at: Int, _ v: UInt64, width: Int) {
        for i in 0..<width { self[at + i] = UInt8((v >> (8 * UInt64(i))) & 0xFF) }
    }
}
