import CheckpointStore
import Testing

@testable import Containers

/// What safetensors 0.8 accepts, ckpt accepts too (interop-formats.md §4 "Accepted").
@Suite struct SafetensorsAcceptedHeaderTests {
    typealias B = SafetensorsBytes

    func parsed(_ bytes: [UInt8]) throws -> SafetensorsHeader { try B.parse(bytes).get() }

    @Test func theValidFixtureParses() throws {
        let h = try parsed(B.valid)
        #expect(h.entries.map(\.name) == ["a", "b"])
        #expect(h.entries[0] == SafetensorsEntry(name: "a", dtype: .f32, shape: [2, 3], begin: 0, end: 24))
        #expect(h.metadata == ["format": "pt"])
        #expect(h.headerLength == B.valid.count - 8 - 40)
    }

    @Test func whitespacePaddingBeforeAndAfterTheObject() throws {
        let f = B.file(" \n\t\r{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}   \n  ", data: [9])
        #expect(try parsed(f).entries.map(\.name) == ["a"])
    }

    @Test func zeroSizeTensorsAnywhere() throws {
        let f = B.file(
            #"{"e1":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"e2":{"dtype":"F16","shape":[3,0],"data_offsets":[2,2]}}"#,
            data: [1, 2])
        #expect(try parsed(f).entries.map(\.name) == ["e1", "x", "e2"])
    }

    @Test func unknownMembersInAnEntry() throws {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":{"deep":[1,2,{"x":null}]}}}"#, data: [1])
        #expect(try parsed(f).entries.count == 1)
    }

    @Test func headerLengthThatIsNotAMultipleOf8() throws {
        #expect(try parsed(B.file("{ }")).entries.isEmpty)
    }

    @Test func entriesAreListedInDataOrder() throws {
        let f = B.file(
            #"{"late":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"early":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1, 2])
        #expect(try parsed(f).entries.map(\.name) == ["early", "late"])
    }

    @Test func everyDtypeStringIsKnownWithItsWidth() throws {
        var header = "{"
        var offset = 0
        for (i, d) in SafetensorsDType.allCases.enumerated() {
            let bytes = d.bits  // 8 elements: `bits` bytes
            header += (i > 0 ? "," : "") + "\"t\(i)\":{\"dtype\":\"\(d.rawValue)\",\"shape\":[8],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        let h = try parsed(B.file(header, data: B.zeros(offset)))
        #expect(h.entries.map(\.dtype) == SafetensorsDType.allCases)
    }

    @Test func escapedNamesAreDecoded() throws {
        let f = B.file(#"{"a\"b\\c\u00e9\ud83d\ude00":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}"#, data: [5])
        #expect(try parsed(f).entries.map(\.name) == ["a\"b\\cé😀"])
    }
}
