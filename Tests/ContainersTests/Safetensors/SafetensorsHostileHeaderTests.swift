import CheckpointStore
import Testing

@testable import Containers

/// Headers that lie, each refused before anything in them is trusted, with a one-line error
/// naming the file and, where one is at fault, the tensor (issue 10, hostile inputs).
@Suite struct SafetensorsHostileHeaderTests {
    typealias B = SafetensorsBytes
    let path = "t.safetensors"

    func expectOneLine(_ e: ContainerError?) {
        guard let e else {
            Issue.record("the file was accepted")
            return
        }
        #expect(!e.description.contains("\n"))
        #expect(e.description.hasPrefix(path + ": "))
    }

    @Test func offsetPastTheEndOfTheFile() {
        let f = B.file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: B.zeros(8))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "data_offsets [0, 16] run past the end of the file (8 data bytes after the 55-byte header)"))
        expectOneLine(e)
    }

    @Test func overlappingTensors() {
        let f = B.file(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: B.zeros(12))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "b", detail: "data_offsets [4, 12] overlap tensor a, which ends at 8"))
        expectOneLine(e)
    }

    @Test func twoTensorsOnTheSameBytes() {
        let f = B.file(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: B.zeros(8))
        #expect(B.error(f) == .badTensor(path: path, tensor: "b", detail: "data_offsets [0, 8] overlap tensor a, which ends at 8"))
    }

    @Test func gapAtTheStartOfTheData() {
        let f = B.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: B.zeros(12))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "data_offsets [4, 12] leave a gap of 4 bytes at the start of the data"))
        expectOneLine(e)
    }

    @Test func gapBetweenTensors() {
        let f = B.file(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#, data: B.zeros(20))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "b", detail: "data_offsets [12, 20] leave a gap of 4 bytes after tensor a"))
        expectOneLine(e)
    }

    @Test func headerLengthAboveTheLimit() {
        let e = B.error(B.file("{}", declaredLength: 100_000_001))
        #expect(e == .malformed(path: path, detail: "header length 100000001 exceeds the limit of 100000000 bytes"))
        expectOneLine(e)
        #expect(
            B.error(B.file("{}", declaredLength: .max))
                == .malformed(path: path, detail: "header length 18446744073709551615 exceeds the limit of 100000000 bytes"))
    }

    @Test func headerLengthPastTheEndOfTheFile() {
        let e = B.error(B.file("{}", declaredLength: 1000))
        #expect(e == .malformed(path: path, detail: "header length 1000 runs past the end of the 10-byte file"))
        expectOneLine(e)
    }

    @Test(
        arguments: [
            ([0xFF], 12), ([0xC0, 0xAF], 12), ([0xED, 0xA0, 0x80], 12), ([0xF4, 0x90, 0x80, 0x80], 12), ([0xE2, 0x82], 12),
        ] as [([UInt8], Int)])
    func headerThatIsNotUTF8(bad: [UInt8], at offset: Int) {
        // `{"a` + bad bytes + `":...}`: the bad sequence starts at byte 8 + 3 of the file.
        let h = Array(#"{"a"#.utf8) + bad + Array(#"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#.utf8)
        let e = B.error(B.file(headerBytes: h))
        #expect(e == .malformed(path: path, detail: "header is not valid UTF-8 (byte \(offset - 1) of the file)"))
        expectOneLine(e)
    }

    @Test func duplicateTensorName() {
        let f = B.file(
            #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: B.zeros(2))
        let e = B.error(f)
        #expect(e == .malformed(path: path, detail: "duplicate key \"a\" in the header at byte 61"))
        expectOneLine(e)
    }

    @Test func duplicateKeyInsideAnEntry() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[1],"dtype":"F32","data_offsets":[0,1]}}"#, data: B.zeros(1))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "key \"dtype\" appears twice in its header entry"))
        expectOneLine(e)
    }

    @Test func duplicateKeyInsideMetadata() {
        let f = B.file(#"{"__metadata__":{"format":"pt","format":"np"}}"#)
        #expect(B.error(f) == .malformed(path: path, detail: "duplicate key \"format\" in __metadata__ at byte 39"))
    }

    @Test func duplicateMetadataObject() {
        let f = B.file(#"{"__metadata__":{},"__metadata__":{}}"#)
        #expect(B.error(f) == .malformed(path: path, detail: "duplicate key \"__metadata__\" in the header at byte 27"))
    }

    @Test func duplicateKeyDeepInsideAnUnknownMember() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"extra":[{"k":1,"k":2}]}}"#)
        let e = B.error(f)
        #expect(e == .malformed(path: path, detail: "header JSON: duplicate key \"k\" at byte 76 of the file"))
        expectOneLine(e)
    }

    @Test func byteLengthThatDoesNotMatchTheShape() {
        let f = B.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, data: B.zeros(12))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "data_offsets [0, 12] hold 12 bytes, but F32 [2] needs 8"))
        expectOneLine(e)
    }

    @Test func unknownDtype() {
        let f = B.file(#"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: B.zeros(4))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "unknown dtype \"F33\""))
        expectOneLine(e)
    }

    @Test func negativeDimension() {
        let f = B.file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#)
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "shape holds the negative number -1"))
        expectOneLine(e)
    }

    @Test func negativeOffset() {
        let f = B.file(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[-4,0]}}"#)
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "data_offsets holds the negative number -4"))
    }

    @Test func nonStringMetadataValue() {
        let f = B.file(#"{"__metadata__":{"format":"pt","epoch":3}}"#)
        let e = B.error(f)
        #expect(e == .malformed(path: path, detail: "__metadata__ value of \"epoch\" is an integer, not a string"))
        expectOneLine(e)
        #expect(
            B.error(B.file(#"{"__metadata__":{"k":{"x":"y"}}}"#)) == .malformed(path: path, detail: "__metadata__ value of \"k\" is an object, not a string"))
        #expect(B.error(B.file(#"{"__metadata__":["x"]}"#)) == .malformed(path: path, detail: "__metadata__ is not an object of strings"))
    }

    @Test func trailingBytesAfterTheLastTensor() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#, data: B.zeros(5))
        let e = B.error(f)
        #expect(e == .malformed(path: path, detail: "3 trailing bytes after the last tensor (data ends at byte 63 of 66)"))
        expectOneLine(e)
    }

    @Test func trailingBytesWithNoTensors() {
        #expect(
            B.error(B.file("{}", data: B.zeros(1))) == .malformed(path: path, detail: "1 trailing bytes after the last tensor (data ends at byte 10 of 11)"))
    }

    @Test func shapeWhoseElementCountOverflows() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#)
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a", detail: "shape [4294967296, 4294967296] has more elements than fit in 64 bits"))
        expectOneLine(e)
    }

    @Test func shapeWhoseBitCountOverflows() {
        let f = B.file(#"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#)
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "shape [2305843009213693952] of F64 needs more bytes than fit in 64 bits"))
    }

    @Test func dimensionBeyond64Bits() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}"#)
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "shape holds 18446744073709551616, which does not fit in 64 bits"))
    }

    @Test func subByteTensorThatDoesNotFillWholeBytes() {
        let f = B.file(#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#, data: B.zeros(1))
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "3 elements of F4 (4 bits each) do not fill whole bytes"))
        let g = B.file(#"{"a":{"dtype":"F6_E2M3","shape":[2],"data_offsets":[0,2]}}"#, data: B.zeros(2))
        #expect(B.error(g) == .badTensor(path: path, tensor: "a", detail: "2 elements of F6_E2M3 (6 bits each) do not fill whole bytes"))
    }

    @Test func offsetsThatEndBeforeTheyBegin() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#)
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "data_offsets [4, 0] end before they begin"))
    }

    @Test func offsetsThatAreNotAPair() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0]}}"#)
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "data_offsets has 1 numbers, not 2"))
        let g = B.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0,0]}}"#)
        #expect(B.error(g) == .badTensor(path: path, tensor: "a", detail: "data_offsets has more than 2 entries"))
    }

    @Test(arguments: [
        (#"{"a":{"shape":[0],"data_offsets":[0,0]}}"#, "header entry has no dtype"),
        (#"{"a":{"dtype":"U8","data_offsets":[0,0]}}"#, "header entry has no shape"),
        (#"{"a":{"dtype":"U8","shape":[0]}}"#, "header entry has no data_offsets"),
        (#"{"a":{"dtype":8,"shape":[0],"data_offsets":[0,0]}}"#, "dtype is not a string"),
        (#"{"a":{"dtype":"U8","shape":"[0]","data_offsets":[0,0]}}"#, "shape is not an array"),
        (#"{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}"#, "shape holds 2.0, not a non-negative integer"),
        (#"{"a":{"dtype":"U8","shape":[null],"data_offsets":[0,2]}}"#, "shape holds null, not a non-negative integer"),
        (#"{"a":[1,2]}"#, "header entry is not an object"),
    ])
    func entryMissingOrMistypedFields(header: String, detail: String) {
        #expect(B.error(B.file(header)) == .badTensor(path: path, tensor: "a", detail: detail))
    }

    @Test func rankAboveTheBound() {
        let dims = Array(repeating: "1", count: 65).joined(separator: ",")
        let f = B.file(#"{"a":{"dtype":"U8","shape":["# + dims + #"],"data_offsets":[0,1]}}"#, data: B.zeros(1))
        #expect(B.error(f) == .badTensor(path: path, tensor: "a", detail: "shape has more than 64 entries"))
    }

    @Test func nestingDeeperThanTheBound() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        let f = B.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":"# + deep + "}}")
        let e = B.error(f)
        #expect(e == .malformed(path: path, detail: "header JSON: nesting deeper than 64 levels at byte 126 of the file"))
        expectOneLine(e)
    }

    @Test func numberLongerThanTheBound() {
        let f = B.file(#"{"a":{"dtype":"U8","shape":["# + String(repeating: "1", count: 70) + #"],"data_offsets":[0,0]}}"#)
        #expect(B.error(f) == .malformed(path: path, detail: "header JSON: number longer than 64 characters at byte 36 of the file"))
    }

    @Test(arguments: [
        ("", "header is empty (only whitespace)"),
        ("   ", "header is empty (only whitespace)"),
        ("[]", "header is not a JSON object"),
        (#"{} x"#, "header JSON: unexpected 'x' after the end of the document at byte 11 of the file"),
        (#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},}"#, "header JSON: expected a string key, found '}' at byte 61 of the file"),
        (#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}"#, "header JSON: unexpected end of document inside an object at byte 60 of the file"),
        (#"{'a':1}"#, "header JSON: expected a string key, found ''' at byte 9 of the file"),
    ])
    func headerThatIsNotAJSONObject(header: String, detail: String) {
        #expect(B.error(B.file(header)) == .malformed(path: path, detail: detail))
    }

    @Test func fileShorterThanTheLengthField() {
        #expect(B.error([1, 2, 3]) == .malformed(path: path, detail: "3 bytes, shorter than the 8-byte header length a safetensors file starts with"))
    }

    @Test func everyTruncationOfAValidFileIsOneLineError() {
        let full = B.valid
        #expect(B.error(full) == nil)
        for n in 0..<full.count {
            let e = B.error(Array(full[0..<n]))
            #expect(e != nil, "truncated to \(n) bytes was accepted")
            if let e { #expect(!e.description.contains("\n")) }
        }
    }

    @Test func everyTruncationThroughTheFileReaderToo() throws {
        let dir = try TestDirectory.make()
        defer { TestDirectory.remove(dir) }
        let full = B.valid
        for n in [0, 7, 8, 20, full.count - 41, full.count - 1] {
            let p = dir + "/t\(n).safetensors"
            try TestDirectory.write(Array(full[0..<n]), to: p)
            #expect(throws: ContainerError.self) { _ = try SafetensorsFile(path: p) }
        }
    }

    @Test func controlCharactersInANameStayOnOneLine() {
        let f = B.file(#"{"a\nb\u202e":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: B.zeros(4))
        let e = B.error(f)
        #expect(e == .badTensor(path: path, tensor: "a\\u{A}b\\u{202E}", detail: "unknown dtype \"F33\""))
        expectOneLine(e)
    }

    @Test func loneSurrogateEscapeInAName() {
        let f = B.file(#"{"\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#)
        #expect(B.error(f) == .malformed(path: path, detail: "header JSON: lone high surrogate \\ud800 in a string at byte 10 of the file"))
    }
}
