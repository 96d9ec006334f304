import Foundation
import Testing

@testable import Containers

/// The bounded JSON parser: RFC 8259 grammar, duplicate keys refused at any depth, bounds.
@Suite struct JSONReaderTests {
    func parse(_ text: String, limits: JSONLimits = .standard) -> Result<JSONValue, JSONParseError> {
        Result { () throws(JSONParseError) in try JSONValue.parse(Array(text.utf8), limits: limits) }
    }

    @Test func parsesEveryKindAndKeepsMemberOrder() throws {
        let v = try parse(#" {"z": [1, -2.5e3, 0], "a": {"t": true, "f": false, "n": null}, "s": "x\u00e9\n"} "#).get()
        let o = try #require(v.objectValue)
        #expect(o.keys == ["z", "a", "s"])
        #expect(o["z"] == .array([.number("1"), .number("-2.5e3"), .number("0")]))
        #expect(o["z"]?.arrayValue?[1].doubleValue == -2500)
        #expect(o["a"]?.objectValue?["t"] == .bool(true))
        #expect(o["a"]?.objectValue?["n"]?.isNull == true)
        #expect(o["s"]?.stringValue == "xé\n")
    }

    @Test(arguments: [
        #"{"a":1,"a":2}"#, #"[{"x":{"y":1,"y":1}}]"#, #"{"a":{"b":[{"c":1},{"c":1,"d":2,"c":3}]}}"#,
    ])
    func duplicateKeysAreRefusedAtAnyDepth(text: String) {
        guard case .failure(let e) = parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(e.message.hasPrefix("duplicate key"))
    }

    @Test func sameKeyInSiblingObjectsIsFine() throws {
        #expect(try parse(#"[{"c":1},{"c":2}]"#).get().arrayValue?.count == 2)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "1e+", "+1", "tru",
        "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "[1 2]",
        "{\"a\" 1}", "[1]]", "NaN", "Infinity", "'a'",
    ])
    func invalidDocumentsAreRefused(text: String) {
        if case .success(let v) = parse(text) { Issue.record("accepted \(text.debugDescription) as \(v)") }
    }

    @Test func depthBound() {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect((try? parse(ok).get()) != nil)
        #expect(throws: JSONParseError(offset: 64, message: "nesting deeper than 64 levels")) { try parse(deep).get() }
        // A million open brackets: refused at the bound, no stack overflow.
        #expect(throws: JSONParseError.self) { try parse(String(repeating: "[", count: 1_000_000)).get() }
    }

    @Test func numberLengthBound() {
        #expect((try? parse(String(repeating: "9", count: 64)).get()) != nil)
        #expect(throws: JSONParseError(offset: 0, message: "number longer than 64 characters")) { try parse(String(repeating: "9", count: 65)).get() }
        #expect(throws: JSONParseError(offset: 1, message: "number longer than 8 characters")) {
            try parse("[1.2345678e9]", limits: JSONLimits(maxDepth: 4, maxNumberLength: 8)).get()
        }
    }

    @Test func integerAccessIsExact() {
        #expect(JSONValue.number("9223372036854775807").intValue == Int.max)
        #expect(JSONValue.number("9223372036854775808").intValue == nil)
        #expect(JSONValue.number("2.0").intValue == nil)
        #expect(JSONValue.number("1e3").intValue == nil)
        #expect(JSONValue.number("-0").intValue == 0)
        #expect(JSONValue.number("1e999").doubleValue == nil)
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try parse(#""\ud83d\ude00\u0041""#).get() == .string("😀A"))
    }

    @Test func rawInvalidUTF8InsideAStringIsRefused() {
        let bytes: [UInt8] = [0x22, 0x61, 0xC3, 0x22]
        #expect(throws: JSONParseError(offset: 0, message: "string is not valid UTF-8")) { try JSONValue.parse(bytes) }
    }

    @Test func textRoundTripsThroughTheWriter() throws {
        let v = try parse(#"{"b":[1,2,{"x":null}],"a":"é\"\\\n\u0001😀","c":{}}"#).get()
        #expect(try parse(JSONText.compact(v)).get() == v)
        #expect(try parse(JSONText.pretty(v)).get().objectValue?.keys == ["a", "b", "c"])
        #expect(
            JSONText.pretty(v)
                == "{\n  \"a\": \"\\u00e9\\\"\\\\\\n\\u0001\\ud83d\\ude00\",\n  \"b\": [\n    1,\n    2,\n    {\n      \"x\": null\n    }\n  ],\n  \"c\": {}\n}"
        )
    }

    @Test func prettyTextMatchesPythonsJsonDumps() throws {
        // python3 -c 'import json; print(json.dumps({"z":1,"a":[True,None],"m":{"k":"v"},"e":[]}, indent=2, sort_keys=True))'
        let v = try parse(#"{"z":1,"a":[true,null],"m":{"k":"v"},"e":[]}"#).get()
        #expect(JSONText.pretty(v) == "{\n  \"a\": [\n    true,\n    null\n  ],\n  \"e\": [],\n  \"m\": {\n    \"k\": \"v\"\n  },\n  \"z\": 1\n}")
    }
}

/// The UTF-8 validator agrees with the standard library's on every input.
@Suite struct UTF8CheckTests {
    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xA0, 0x9F, 0xED, 0xEF, 0xF0, 0x90, 0x8F, 0xF4, 0xF5, 0xFF]
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...12, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng) ?? 0 }
            let ours = bytes.withUnsafeBytes { UTF8Check.isValid($0) }
            let stdlib = String(validating: bytes, as: UTF8.self) != nil
            #expect(ours == stdlib, "\(bytes.map { String($0, radix: 16) })")
        }
    }

    @Test func firstInvalidOffset() {
        let bytes: [UInt8] = Array("abcdefghij".utf8) + [0xE2, 0x82, 0xAC, 0xE2, 0x28]
        #expect(bytes.withUnsafeBytes { UTF8Check.firstInvalid($0) } == 13)
        #expect([UInt8]().withUnsafeBytes { UTF8Check.firstInvalid($0) } == nil)
    }
}
