/// Reads and checks the end records and central directory of a zip archive (APPNOTE 6.3,
/// including Zip64), then each entry's local header. Every offset and size from the file is
/// checked against the archive's length before use; nothing is allocated from a file-supplied
/// size before that check.
enum ZipCentralDirectory {
    static let eocdSignature: UInt32 = 0x0605_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let zip64RecordSignature: UInt32 = 0x0606_4b50
    static let entrySignature: UInt32 = 0x0201_4b50
    static let localSignature: UInt32 = 0x0403_4b50

    /// Where the central directory is, from the end records.
    struct Location {
        var offset: Int
        var size: Int
        var count: Int
        /// The first byte after the directory that belongs to the end records.
        var limit: Int
    }

    /// The entries of the archive occupying `range` of `file`, in central-directory order.
    static func read(file: RandomAccessFile, range: Range<Int>, limits: ZipLimits) throws(ContainerError) -> [ZipEntry] {
        let location = try locate(file: file, range: range, limits: limits)
        let cd = try file.bytes(at: range.lowerBound + location.offset, count: location.size)
        var entries = try parseEntries(cd, location: location, path: file.path, limits: limits)
        try resolveLocalHeaders(&entries, file: file, range: range, directoryOffset: location.offset)
        return entries
    }

    /// Finds the end-of-central-directory record in the last 64 KiB + 22 bytes and, when a Zip64
    /// locator precedes it, the Zip64 record.
    static func locate(file: RandomAccessFile, range: Range<Int>, limits: ZipLimits) throws(ContainerError) -> Location {
        let path = file.path
        let length = range.count
        guard length >= 22 else { throw .malformed(path: path, detail: "\(length) bytes is too short for a zip archive") }
        let tailLength = min(length, 0xFFFF + 22)
        let tail = try file.bytes(at: range.lowerBound + length - tailLength, count: tailLength)
        let cursor = ZipByteCursor(tail)
        var found: Int?
        var i = tailLength - 22
        while i >= 0 {
            if cursor.u32(at: i) == eocdSignature {
                var c = ZipByteCursor(tail, at: i + 20)
                if let comment = c.u16(), i + 22 + Int(comment) == tailLength {
                    found = i
                    break
                }
            }
            i -= 1
        }
        guard let at = found else {
            throw .malformed(path: path, detail: "no zip end-of-central-directory record (not a zip archive, or truncated)")
        }
        let eocd = length - tailLength + at
        var c = ZipByteCursor(tail, at: at + 4)
        guard let disk = c.u16(), let cdDisk = c.u16(), let onDisk = c.u16(), let total = c.u16(),
            let size32 = c.u32(), let offset32 = c.u32()
        else { throw .malformed(path: path, detail: "truncated end-of-central-directory record") }
        var loc = Location(offset: Int(offset32), size: Int(size32), count: Int(total), limit: eocd)
        var disks = (UInt64(disk), UInt64(cdDisk), UInt64(onDisk), UInt64(total))

        // Zip64: the locator sits right before the end record.
        if eocd >= 20 {
            let locatorBytes = try file.bytes(at: range.lowerBound + eocd - 20, count: 20)
            var l = ZipByteCursor(locatorBytes)
            if l.u32() == zip64LocatorSignature {
                guard let recordDisk = l.u32(), let recordOffset64 = l.u64(), let diskCount = l.u32() else {
                    throw .malformed(path: path, detail: "truncated Zip64 locator")
                }
                guard recordDisk == 0, diskCount <= 1 else {
                    throw .unsupported(path: path, detail: "multi-disk zip archive (\(diskCount) disks)")
                }
                guard recordOffset64 <= UInt64(eocd - 20), eocd - 20 - Int(recordOffset64) >= 56 else {
                    throw .malformed(path: path, detail: "Zip64 end record offset \(recordOffset64) lies outside the archive")
                }
                let recordOffset = Int(recordOffset64)
                let record = try file.bytes(at: range.lowerBound + recordOffset, count: 56)
                var r = ZipByteCursor(record)
                guard r.u32() == zip64RecordSignature else {
                    throw .malformed(path: path, detail: "no Zip64 end record at offset \(recordOffset) where the locator points")
                }
                guard let recordSize = r.u64(), recordSize >= 44, let _ = r.u16(), let _ = r.u16(),
                    let d = r.u32(), let cd = r.u32(), let on = r.u64(), let tot = r.u64(), let sz = r.u64(), let off = r.u64()
                else { throw .malformed(path: path, detail: "truncated Zip64 end record") }
                disks = (UInt64(d), UInt64(cd), on, tot)
                guard tot <= UInt64(limits.maxEntries) else {
                    throw .malformed(path: path, detail: "the archive lists \(tot) entries, more than the limit of \(limits.maxEntries)")
                }
                guard sz <= UInt64(length), off <= UInt64(length) else {
                    throw .malformed(path: path, detail: "central directory (offset \(off), \(sz) bytes) lies past the end of the \(length)-byte archive")
                }
                loc = Location(offset: Int(off), size: Int(sz), count: Int(tot), limit: recordOffset)
            }
        }
        guard disks.0 == 0, disks.1 == 0, disks.2 == disks.3 else {
            throw .unsupported(path: path, detail: "multi-disk zip archive")
        }
        guard loc.count <= limits.maxEntries else {
            throw .malformed(path: path, detail: "the archive lists \(loc.count) entries, more than the limit of \(limits.maxEntries)")
        }
        let (end, overflow) = loc.offset.addingReportingOverflow(loc.size)
        guard !overflow, end <= loc.limit else {
            throw .malformed(
                path: path, detail: "central directory (offset \(loc.offset), \(loc.size) bytes) runs past its end record at offset \(loc.limit)")
        }
        guard loc.size <= limits.maxCentralDirectoryBytes else {
            throw .malformed(path: path, detail: "central directory of \(loc.size) bytes exceeds the limit of \(limits.maxCentralDirectoryBytes)")
        }
        let (minimum, tooMany) = loc.count.multipliedReportingOverflow(by: 46)
        guard !tooMany, minimum <= loc.size else {
            throw .malformed(path: path, detail: "the archive lists \(loc.count) entries, more than its \(loc.size)-byte central directory can hold")
        }
        return loc
    }

    /// Parses `location.count` central-directory records.
    static func parseEntries(_ cd: [UInt8], location: Location, path: String, limits: ZipLimits) throws(ContainerError) -> [ZipEntry] {
        var entries: [ZipEntry] = []
        entries.reserveCapacity(location.count)
        var c = ZipByteCursor(cd)
        for n in 0..<location.count {
            let bad = ContainerError.malformed(path: path, detail: "central directory record \(n) is truncated or damaged")
            guard c.u32() == entrySignature else { throw .malformed(path: path, detail: "central directory record \(n) has no signature") }
            guard let _ = c.u16(), let _ = c.u16(), let flags = c.u16(), let method = c.u16(), let _ = c.u16(), let _ = c.u16(),
                let crc = c.u32(), let csize32 = c.u32(), let usize32 = c.u32(), let nameLength = c.u16(), let extraLength = c.u16(),
                let commentLength = c.u16(), let disk16 = c.u16(), let _ = c.u16(), let _ = c.u32(), let offset32 = c.u32()
            else { throw bad }
            guard Int(nameLength) <= limits.maxNameBytes else {
                throw .malformed(
                    path: path, detail: "central directory record \(n) has a \(nameLength)-byte name, longer than the limit of \(limits.maxNameBytes)")
            }
            guard let nameBytes = c.take(Int(nameLength)), let extra = c.take(Int(extraLength)), c.take(Int(commentLength)) != nil else { throw bad }
            guard !nameBytes.isEmpty, let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .malformed(path: path, detail: "central directory record \(n) has an empty or non-UTF-8 name")
            }
            var usize = UInt64(usize32), csize = UInt64(csize32), offset = UInt64(offset32), disk = UInt64(disk16)
            if usize32 == 0xFFFF_FFFF || csize32 == 0xFFFF_FFFF || offset32 == 0xFFFF_FFFF || disk16 == 0xFFFF {
                guard var z = zip64Field(extra) else {
                    throw .malformed(path: path, detail: "zip entry \(name) needs a Zip64 extra field and has none")
                }
                let tooShort = ContainerError.malformed(path: path, detail: "zip entry \(name) has a short Zip64 extra field")
                if usize32 == 0xFFFF_FFFF { guard let v = z.u64() else { throw tooShort }; usize = v }
                if csize32 == 0xFFFF_FFFF { guard let v = z.u64() else { throw tooShort }; csize = v }
                if offset32 == 0xFFFF_FFFF { guard let v = z.u64() else { throw tooShort }; offset = v }
                if disk16 == 0xFFFF { guard let v = z.u32() else { throw tooShort }; disk = UInt64(v) }
            }
            guard disk == 0 else { throw .unsupported(path: path, detail: "zip entry \(name) lies on disk \(disk) of a multi-disk archive") }
            let limit = UInt64(location.offset)
            guard offset <= limit, csize <= limit, usize <= UInt64(Int.max) else {
                throw .malformed(path: path, detail: "zip entry \(name) (offset \(offset), \(csize) bytes) lies past its central directory at offset \(limit)")
            }
            if method == 0 && csize != usize {
                throw .malformed(path: path, detail: "stored zip entry \(name) records \(csize) bytes stored but \(usize) uncompressed")
            }
            entries.append(
                ZipEntry(
                    name: name, method: method, flags: flags, crc32: crc, compressedSize: Int(csize), size: Int(usize),
                    localHeaderOffset: Int(offset), dataOffset: 0))
        }
        return entries
    }

    /// The data of the Zip64 extended-information extra field (id 1), or nil.
    static func zip64Field(_ extra: ArraySlice<UInt8>) -> ZipByteCursor? {
        var c = ZipByteCursor(Array(extra))
        while c.remaining >= 4 {
            guard let id = c.u16(), let size = c.u16(), let data = c.take(Int(size)) else { return nil }
            if id == 1 { return ZipByteCursor(Array(data)) }
        }
        return nil
    }

    /// Checks each local header (signature, the same name, method) and sets `dataOffset`; then
    /// checks that no entry's header and data overlap another's or the central directory.
    static func resolveLocalHeaders(_ entries: inout [ZipEntry], file: RandomAccessFile, range: Range<Int>, directoryOffset: Int) throws(ContainerError) {
        let path = file.path
        var seen = Set<String>()
        seen.reserveCapacity(entries.count)
        for i in entries.indices {
            let e = entries[i]
            guard seen.insert(e.name).inserted else { throw .malformed(path: path, detail: "zip entry \(e.name) appears twice") }
            let nameBytes = Array(e.name.utf8)
            let headerLength = 30 + nameBytes.count
            guard e.localHeaderOffset <= directoryOffset - headerLength else {
                throw .malformed(path: path, detail: "local header of zip entry \(e.name) at offset \(e.localHeaderOffset) runs into the central directory")
            }
            let header = try file.bytes(at: range.lowerBound + e.localHeaderOffset, count: headerLength)
            var c = ZipByteCursor(header)
            guard c.u32() == localSignature else {
                throw .malformed(path: path, detail: "no local header for zip entry \(e.name) at offset \(e.localHeaderOffset)")
            }
            guard let _ = c.u16(), let _ = c.u16(), let method = c.u16(), c.take(16) != nil, let nameLength = c.u16(), let extraLength = c.u16(),
                let localName = c.take(nameBytes.count)
            else { throw .malformed(path: path, detail: "truncated local header of zip entry \(e.name)") }
            guard Int(nameLength) == nameBytes.count, localName.elementsEqual(nameBytes) else {
                throw .malformed(path: path, detail: "local header at offset \(e.localHeaderOffset) names another file than zip entry \(e.name)")
            }
            guard method == e.method else {
                throw .malformed(path: path, detail: "zip entry \(e.name): local header method \(method) differs from the central directory's \(e.method)")
            }
            let dataOffset = e.localHeaderOffset + headerLength + Int(extraLength)
            guard dataOffset <= directoryOffset, e.compressedSize <= directoryOffset - dataOffset else {
                throw .malformed(
                    path: path,
                    detail:
                        "data of zip entry \(e.name) (offset \(dataOffset), \(e.compressedSize) bytes) overlaps the central directory at offset \(directoryOffset)"
                )
            }
            entries[i].dataOffset = dataOffset
        }
        let order = entries.indices.sorted { entries[$0].localHeaderOffset < entries[$1].localHeaderOffset }
        for (a, b) in zip(order, order.dropFirst()) {
            let end = entries[a].dataOffset + entries[a].compressedSize
            if entries[b].localHeaderOffset < end {
                throw .malformed(path: path, detail: "zip entries \(entries[a].name) and \(entries[b].name) overlap")
            }
        }
    }
}
