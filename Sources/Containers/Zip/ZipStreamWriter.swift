/// Writes a zip archive front to back the way `torch.save` does (PyTorch's miniz writer): every
/// entry STORED, its data 64-byte aligned by an `FB` padding extra field, flag 0x0808 (data
/// descriptor, UTF-8 names) with the CRC-32 and sizes in a descriptor after the data, and a
/// Zip64 end record always. Entries larger than 4 GiB get Zip64 sizes; nothing is ever seeked.
final class ZipStreamWriter {
    /// What the central directory needs of one finished entry.
    private struct Record {
        var name: [UInt8]
        var crc: UInt32
        var size: Int
        var headerOffset: Int
    }

    /// The entry being written.
    private struct OpenEntry {
        var record: Record
        var expected: Int
        var written = 0
        var crc = CRC32()
        var zip64: Bool
    }

    /// Data alignment inside the archive.
    static let alignment = 64
    private static let flags: UInt16 = 0x0808
    private static let emptyFlags: UInt16 = 0x0800
    private static let dosDate: UInt16 = 0x0021  // 1980-01-01

    let out: OutputFile
    private let base: Int
    private var records: [Record] = []
    private var current: OpenEntry?

    /// Writes an archive at the current end of `out` (offsets count from there).
    init(out: OutputFile) {
        self.out = out
        self.base = out.position
    }

    /// Whether an entry is open.
    var hasOpenEntry: Bool { current != nil }

    /// Writes the local header of an entry of exactly `size` bytes; its data follows through
    /// `append`, then `finishEntry`. The header is laid out as miniz lays it out, so torch's
    /// offset calculation (`_get_offset` in `torch/serialization.py`) finds the data: a Zip64
    /// extra field when the size or the header offset reaches 4 GiB, then the `FB` padding.
    func beginEntry(name: String, size: Int) throws(ContainerError) {
        guard current == nil else { throw .io(path: out.path, detail: "zip entry \(name) begun while another is open") }
        let nameBytes = Array(name.utf8)
        let offset = out.position - base
        let bigSize = size >= 0xFFFF_FFFF, bigOffset = offset >= 0xFFFF_FFFF
        let zip64 = bigSize || bigOffset
        let zip64Extra = zip64 ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0
        let unpadded = offset + 30 + nameBytes.count + zip64Extra + 4
        let pad = (Self.alignment - unpadded % Self.alignment) % Self.alignment
        var h: [UInt8] = []
        h.reserveCapacity(30 + nameBytes.count + zip64Extra + 4 + pad)
        h.le32(0x0403_4b50)
        h.le16(zip64 ? 45 : 20)
        h.le16(size == 0 ? Self.emptyFlags : Self.flags)  // an empty entry has no data descriptor
        h.le16(0)  // STORED
        h.le16(0)
        h.le16(Self.dosDate)
        h.le32(0)  // CRC and sizes: in the data descriptor
        h.le32(zip64 ? 0xFFFF_FFFF : 0)
        h.le32(zip64 ? 0xFFFF_FFFF : 0)
        h.le16(UInt16(nameBytes.count))
        h.le16(UInt16(zip64Extra + 4 + pad))
        h.append(contentsOf: nameBytes)
        if zip64 {
            h.le16(1)
            h.le16(UInt16(zip64Extra - 4))
            if bigSize {
                h.le64(UInt64(size))
                h.le64(UInt64(size))
            }
            if bigOffset { h.le64(UInt64(offset)) }
        }
        h.append(contentsOf: [0x46, 0x42])  // "FB"
        h.le16(UInt16(pad))
        h.append(contentsOf: repeatElement(0x5A, count: pad))  // "Z"
        try out.write(h)
        current = OpenEntry(record: Record(name: nameBytes, crc: 0, size: size, headerOffset: offset), expected: size, zip64: zip64)
    }

    /// Appends data to the open entry.
    func append(_ bytes: UnsafeRawBufferPointer) throws(ContainerError) {
        guard var e = current else { throw .io(path: out.path, detail: "zip data written with no entry open") }
        guard bytes.count <= e.expected - e.written else {
            let name = String(decoding: e.record.name, as: UTF8.self)
            throw .io(path: out.path, detail: "zip entry \(name): more than the announced \(e.expected) bytes written")
        }
        e.crc.update(bytes)
        e.written += bytes.count
        current = e
        try out.write(bytes)
    }

    /// Ends the open entry (which must have received exactly its announced size) with its data
    /// descriptor.
    func finishEntry() throws(ContainerError) {
        guard var e = current else { throw .io(path: out.path, detail: "zip entry finished with none open") }
        let name = String(decoding: e.record.name, as: UTF8.self)
        guard e.written == e.expected else {
            throw .io(path: out.path, detail: "zip entry \(name): \(e.written) bytes written of the announced \(e.expected)")
        }
        e.record.crc = e.crc.value
        records.append(e.record)
        current = nil
        if e.written == 0 { return }
        var d: [UInt8] = []
        d.le32(0x0807_4b50)
        d.le32(e.record.crc)
        if e.zip64 {
            d.le64(UInt64(e.written))
            d.le64(UInt64(e.written))
        } else {
            d.le32(UInt32(e.written))
            d.le32(UInt32(e.written))
        }
        try out.write(d)
    }

    /// Writes a whole small entry.
    func addEntry(name: String, bytes: [UInt8]) throws(ContainerError) {
        try beginEntry(name: name, size: bytes.count)
        var failure: ContainerError?
        bytes.withUnsafeBytes { b in
            do throws(ContainerError) { try append(b) } catch { failure = error }
        }
        if let failure { throw failure }
        try finishEntry()
    }

    /// Writes the central directory and the Zip64 and classic end records.
    func finish() throws(ContainerError) {
        guard current == nil else { throw .io(path: out.path, detail: "zip archive finished with an entry still open") }
        let cdOffset = out.position - base
        var cd: [UInt8] = []
        for r in records {
            let bigSize = r.size >= 0xFFFF_FFFF, bigOffset = r.headerOffset >= 0xFFFF_FFFF
            var extra: [UInt8] = []
            if bigSize || bigOffset {
                extra.le16(1)
                extra.le16(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)))
                if bigSize {
                    extra.le64(UInt64(r.size))
                    extra.le64(UInt64(r.size))
                }
                if bigOffset { extra.le64(UInt64(r.headerOffset)) }
            }
            cd.le32(0x0201_4b50)
            cd.le16(0x032D)  // made by: Unix, spec 4.5
            cd.le16(extra.isEmpty ? 20 : 45)
            cd.le16(r.size == 0 ? Self.emptyFlags : Self.flags)
            cd.le16(0)
            cd.le16(0)
            cd.le16(Self.dosDate)
            cd.le32(r.crc)
            cd.le32(bigSize ? 0xFFFF_FFFF : UInt32(r.size))
            cd.le32(bigSize ? 0xFFFF_FFFF : UInt32(r.size))
            cd.le16(UInt16(r.name.count))
            cd.le16(UInt16(extra.count))
            cd.le16(0)  // comment
            cd.le16(0)  // disk
            cd.le16(0)  // internal attributes
            cd.le32(0)  // external attributes
            cd.le32(bigOffset ? 0xFFFF_FFFF : UInt32(r.headerOffset))
            cd.append(contentsOf: r.name)
            cd.append(contentsOf: extra)
            if cd.count >= 1 << 20 {
                try out.write(cd)
                cd.removeAll(keepingCapacity: true)
            }
        }
        try out.write(cd)
        let zip64Offset = out.position - base
        let cdSize = zip64Offset - cdOffset
        let n = records.count
        var end: [UInt8] = []
        end.le32(0x0606_4b50)
        end.le64(44)
        end.le16(0x032D)
        end.le16(45)
        end.le32(0)
        end.le32(0)
        end.le64(UInt64(n))
        end.le64(UInt64(n))
        end.le64(UInt64(cdSize))
        end.le64(UInt64(cdOffset))
        end.le32(0x0706_4b50)
        end.le32(0)
        end.le64(UInt64(zip64Offset))
        end.le32(1)
        end.le32(0x0605_4b50)
        end.le16(0)
        end.le16(0)
        end.le16(UInt16(min(n, 0xFFFF)))
        end.le16(UInt16(min(n, 0xFFFF)))
        end.le32(UInt32(min(cdSize, 0xFFFF_FFFF)))
        end.le32(UInt32(min(cdOffset, 0xFFFF_FFFF)))
        end.le16(0)
        try out.write(end)
    }
}
