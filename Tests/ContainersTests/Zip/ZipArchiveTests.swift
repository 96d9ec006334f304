import Testing

@testable import Containers

@Suite struct ZipArchiveTests {
    let sample = [
        HandZip.Entry(name: "arch/data.pkl", data: Array("pickle".utf8)),
        HandZip.Entry(name: "arch/data/0", data: (0..<100).map { UInt8($0) }, descriptor: true, localExtra: [0x46, 0x42, 2, 0, 0x5A, 0x5A]),
        HandZip.Entry(name: "arch/version", data: Array("3\n".utf8)),
    ]

    func open(_ bytes: [UInt8], _ dir: TestDirectory) throws(ContainerError) -> ZipArchive {
        try ZipArchive(path: dir.write("a.zip", bytes))
    }

    func failure(_ bytes: [UInt8], _ dir: TestDirectory) -> ContainerError? {
        do { _ = try open(bytes, dir) } catch { return error }
        return nil
    }

    @Test(arguments: [false, true])
    func readsEntriesWithAndWithoutZip64(zip64: Bool) throws {
        let dir = TestDirectory()
        let z = try open(HandZip.build(sample, zip64: zip64, comment: Array("a comment".utf8)).bytes, dir)
        #expect(z.entries.map(\.name) == ["arch/data.pkl", "arch/data/0", "arch/version"])
        #expect(z.prefix == "arch")
        let e = try #require(z.entry(named: "arch/data/0"))
        #expect(e.size == 100 && e.crc32 == HandZip.crc((0..<100).map { UInt8($0) }))
        #expect(try z.contents(of: e, limit: 1000) == (0..<100).map { UInt8($0) })
        var part = [UInt8](repeating: 0, count: 10)
        try part.withUnsafeMutableBytes { try z.read(e, at: 40, into: $0) }
        #expect(part == (40..<50).map { UInt8($0) })
        #expect(try z.contents(of: z.entry(named: "arch/version")!, limit: 10) == Array("3\n".utf8))
    }

    @Test func crcMatchesBitwiseReference() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 63, 1000] {
            #expect(CRC32.checksum(Array(data.prefix(n))) == HandZip.crc(Array(data.prefix(n))))
        }
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        // Streamed in uneven pieces, as a storage sink receives them.
        var c = CRC32()
        var at = 0
        for piece in [1, 7, 13, 16, 33, 100, 830] {
            c.update(Array(data[at..<(at + piece)]))
            at += piece
        }
        #expect(at == data.count && c.value == HandZip.crc(data))
    }

    /// Inputs past `CRC32.parallelThreshold` are checksummed in parts on several cores; the
    /// joined value must be the sequential one, also after a prefix and at uneven lengths.
    @Test func parallelCRCEqualsTheSequentialOne() {
        for n in [CRC32.parallelThreshold, CRC32.parallelThreshold + 12_345, 3 * CRC32.parallelThreshold + 1] {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(n)
            let words = (0..<(n + 7) / 8).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return state
            }
            let data = Array(words.withUnsafeBytes { $0.prefix(n) })
            var reference: UInt32 = 0
            data.withUnsafeBytes { reference = CRC32.sequential(0, $0.baseAddress!, n) }
            var pieces: UInt32 = 0
            data.withUnsafeBytes { b in
                var r: UInt32 = 0
                var at = 0
                while at < n {
                    let k = min(1 << 20, n - at)
                    r = CRC32.sequential(r, b.baseAddress! + at, k)
                    at += k
                }
                pieces = r
            }
            #expect(CRC32.checksum(data) == reference && pieces == reference)
            var c = CRC32()
            c.update(Array("123456789".utf8))
            c.update(data)
            var expected: UInt32 = 0
            (Array("123456789".utf8) + data).withUnsafeBytes { expected = CRC32.sequential(0, $0.baseAddress!, n + 9) }
            #expect(c.value == expected)
        }
    }

    @Test func compressedEntryIsListedButUnreadable() throws {
        let dir = TestDirectory()
        var entries = sample
        entries[1].method = 8
        let z = try open(HandZip.build(entries).bytes, dir)
        let e = try #require(z.entry(named: "arch/data/0"))
        #expect(
            throws: ContainerError.unsupported(
                path: z.path, detail: "zip entry arch/data/0 is compressed (method 8: deflate); torch.save writes every entry STORED")
        ) {
            _ = try z.contents(of: e, limit: 1000)
        }
        #expect(try z.contents(of: z.entry(named: "arch/data.pkl")!, limit: 100) == Array("pickle".utf8))
    }

    @Test func everyTruncationFailsWithOneLine() throws {
        let dir = TestDirectory()
        for zip64 in [false, true] {
            let bytes = HandZip.build(sample, zip64: zip64).bytes
            for n in 0..<bytes.count {
                let e = failure(Array(bytes.prefix(n)), dir)
                #expect(e != nil, "prefix \(n) of \(bytes.count) opened")
                if let e { #expect(!e.description.contains("\n")) }
            }
        }
    }

    @Test func lyingEndRecordsAreMalformed() throws {
        let dir = TestDirectory()
        let b = HandZip.build(sample)
        let size = b.bytes.count
        var cases: [(String, [UInt8])] = []
        var x = b.bytes
        x.patch(b.endRecord + 16, UInt64(size + 100), width: 4)
        cases.append(("central directory offset past EOF", x))
        x = b.bytes
        x.patch(b.endRecord + 12, 0xFFFF_FF00, width: 4)
        cases.append(("central directory size past EOF", x))
        x = b.bytes
        x.patch(b.endRecord + 8, 0xFFFE, width: 2)
        x.patch(b.endRecord + 10, 0xFFFE, width: 2)
        cases.append(("huge entry count", x))
        x = b.bytes
        x.patch(b.centralDirectory + 42, UInt64(size + 5), width: 4)
        cases.append(("local header offset past EOF", x))
        x = b.bytes
        x.patch(b.centralDirectory + 20, 0x7FFF_FFFF, width: 4)
        x.patch(b.centralDirectory + 24, 0x7FFF_FFFF, width: 4)
        cases.append(("entry size past the directory", x))
        x = b.bytes
        x.patch(b.centralDirectory + 42, UInt64(b.headers[1]), width: 4)
        cases.append(("entry pointing at another's header", x))
        x = b.bytes
        x.patch(b.headers[1], 0x1234_5678, width: 4)
        cases.append(("local header without signature", x))
        for (what, bytes) in cases {
            guard let e = failure(bytes, dir) else {
                Issue.record("\(what): opened")
                continue
            }
            guard case .malformed = e else {
                Issue.record("\(what): \(e)")
                continue
            }
            #expect(!e.description.contains("\n"))
        }
    }

    @Test func lyingZip64RecordsAreMalformed() throws {
        let dir = TestDirectory()
        let b = HandZip.build(sample, zip64: true)
        let z = try #require(b.zip64Record)
        var x = b.bytes
        x.patch(z + 24, 1 << 40, width: 8)  // entry counts
        x.patch(z + 32, 1 << 40, width: 8)
        #expect(failure(x, dir).map { if case .malformed = $0 { true } else { false } } == true)
        x = b.bytes
        x.patch(z + 48, 1 << 50, width: 8)  // directory offset
        #expect(failure(x, dir).map { if case .malformed = $0 { true } else { false } } == true)
        x = b.bytes
        x.patch(b.endRecord - 12, 1 << 62, width: 8)  // locator's record offset
        let e = failure(x, dir)
        #expect(e.map { if case .malformed = $0 { true } else { false } } == true, "\(String(describing: e))")
    }

    @Test func localHeaderMustNameTheSameFile() throws {
        let dir = TestDirectory()
        var entries = sample
        entries[2].localName = "arch/versioN"
        let e = failure(HandZip.build(entries).bytes, dir)
        #expect(
            e
                == .malformed(
                    path: dir.file("a.zip"),
                    detail: "local header at offset \(HandZip.build(entries).headers[2]) names another file than zip entry arch/version"))
    }

    @Test func duplicateNamesAreMalformed() throws {
        let dir = TestDirectory()
        let e = failure(HandZip.build([sample[0], sample[0]]).bytes, dir)
        #expect(e == .malformed(path: dir.file("a.zip"), detail: "zip entry arch/data.pkl appears twice"))
    }

    @Test func entryLimitAndNameLimitHold() throws {
        let dir = TestDirectory()
        let p = dir.write("a.zip", HandZip.build(sample).bytes)
        #expect(throws: ContainerError.self) { _ = try ZipArchive(path: p, limits: ZipLimits(maxEntries: 2)) }
        #expect(throws: ContainerError.self) { _ = try ZipArchive(path: p, limits: ZipLimits(maxNameBytes: 8)) }
        #expect(try ZipArchive(path: p, limits: ZipLimits(maxEntries: 3, maxNameBytes: 13)).entries.count == 3)
    }

    @Test func readsPastAnEntryAreRefused() throws {
        let dir = TestDirectory()
        let z = try open(HandZip.build(sample).bytes, dir)
        let e = try #require(z.entry(named: "arch/version"))
        var buf = [UInt8](repeating: 0, count: 3)
        #expect(throws: ContainerError.self) { try buf.withUnsafeMutableBytes { try z.read(e, at: 0, into: $0) } }
        #expect(throws: ContainerError.self) { try buf.withUnsafeMutableBytes { try z.read(e, at: Int.max - 1, into: $0) } }
        #expect(throws: ContainerError.self) { _ = try z.contents(of: e, limit: 1) }
    }

    @Test func notAZipIsOneLine() throws {
        let dir = TestDirectory()
        let e = failure(Array(repeating: 0x41, count: 5000), dir)
        #expect(e == .malformed(path: dir.file("a.zip"), detail: "no zip end-of-central-directory record (not a zip archive, or truncated)"))
    }
}
