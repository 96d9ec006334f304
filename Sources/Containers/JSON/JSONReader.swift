/// A pull parser over untrusted JSON bytes (RFC 8259), bounded by `JSONLimits`.
///
/// Callers that know the document's schema walk it member by member (`beginObject`, `nextKey`,
/// `beginArray`, `nextElement`, `readString` ...) and allocate only what they keep; `readValue`
/// builds a `JSONValue` for the rest. Every object read refuses a key it has already seen
/// (Foundation's `JSONSerialization` and serde keep the last one silently): callers walking an
/// object themselves check duplicates the same way. Nothing here traps on any input.
public struct JSONReader {
    private let bytes: UnsafeRawBufferPointer
    /// The byte offset of the next unread byte.
    public private(set) var offset: Int
    /// The bounds in force.
    public let limits: JSONLimits
    /// The offset at which the key last returned by `nextKey` starts (for duplicate-key messages).
    public private(set) var lastKeyOffset = 0

    /// A reader at the start of `bytes`, which must stay valid while the reader is used.
    public init(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .standard) {
        self.bytes = bytes
        self.offset = 0
        self.limits = limits
    }

    /// An error at the current offset.
    public func error(_ message: String) -> JSONParseError { JSONParseError(offset: offset, message: message) }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    public mutating func skipWhitespace() {
        while offset < bytes.count {
            let c = bytes[offset]
            guard c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D else { return }
            offset += 1
        }
    }

    /// The next non-whitespace byte, not consumed; nil at the end.
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return offset < bytes.count ? bytes[offset] : nil
    }

    /// Requires that only whitespace remains.
    public mutating func finish() throws(JSONParseError) {
        skipWhitespace()
        if offset < bytes.count { throw error("unexpected \(Self.describe(bytes[offset])) after the end of the document") }
    }

    /// Consumes the `{` that opens an object.
    public mutating func beginObject() throws(JSONParseError) { try expect(0x7B, "'{'") }

    /// Consumes the `[` that opens an array.
    public mutating func beginArray() throws(JSONParseError) { try expect(0x5B, "'['") }

    /// The next key of the object being read (with its `:` consumed), or nil once its `}` is
    /// consumed. `first` is true before the first call for an object; the reader clears it.
    public mutating func nextKey(_ first: inout Bool) throws(JSONParseError) -> String? {
        guard let c = peek() else { throw error("unexpected end of document inside an object") }
        if c == 0x7D {
            offset += 1
            return nil
        }
        if !first {
            guard c == 0x2C else { throw error("expected ',' or '}' in an object, found \(Self.describe(c))") }
            offset += 1
            skipWhitespace()
        }
        first = false
        guard offset < bytes.count, bytes[offset] == 0x22 else {
            throw error(offset < bytes.count ? "expected a string key, found \(Self.describe(bytes[offset]))" : "unexpected end of document inside an object")
        }
        lastKeyOffset = offset
        let key = try readString()
        try expect(0x3A, "':' after an object key")
        return key
    }

    /// Whether the array being read has another element (its `,` consumed), false once its `]`
    /// is consumed. `first` is true before the first call for an array.
    public mutating func nextElement(_ first: inout Bool) throws(JSONParseError) -> Bool {
        guard let c = peek() else { throw error("unexpected end of document inside an array") }
        if c == 0x5D {
            offset += 1
            return false
        }
        if !first {
            guard c == 0x2C else { throw error("expected ',' or ']' in an array, found \(Self.describe(c))") }
            offset += 1
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == 0x5D { throw error("expected a value after ','") }
        }
        first = false
        return true
    }

    /// Reads any value; `depth` is the nesting level it sits at (1 for a document's top).
    public mutating func readValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= limits.maxDepth else { throw error("nesting deeper than \(limits.maxDepth) levels") }
        guard let c = peek() else { throw error("unexpected end of document, expected a value") }
        switch c {
        case 0x7B:
            try beginObject()
            var object = JSONObject()
            var first = true
            while let key = try nextKey(&first) {
                let keyAt = lastKeyOffset
                let value = try readValue(depth: depth + 1)
                if !object.insert(key, value) {
                    throw JSONParseError(offset: keyAt, message: "duplicate key \(Self.quote(key))")
                }
            }
            return .object(object)
        case 0x5B:
            try beginArray()
            var items: [JSONValue] = []
            var first = true
            while try nextElement(&first) { items.append(try readValue(depth: depth + 1)) }
            return .array(items)
        case 0x22: return .string(try readString())
        case 0x74: try literal("true"); return .bool(true)
        case 0x66: try literal("false"); return .bool(false)
        case 0x6E: try literal("null"); return .null
        case 0x2D, 0x30...0x39: return .number(try readNumber())
        default: throw error("unexpected \(Self.describe(c)), expected a value")
        }
    }

    /// Reads a string (escapes decoded, UTF-8 checked, lone surrogates refused).
    public mutating func readString() throws(JSONParseError) -> String {
        skipWhitespace()
        let start = offset
        guard offset < bytes.count, bytes[offset] == 0x22 else { throw error("expected a string") }
        var i = offset + 1
        var out: [UInt8] = []
        var runStart = i
        var escaped = false
        while true {
            guard i < bytes.count else { throw JSONParseError(offset: start, message: "unterminated string") }
            let c = bytes[i]
            if c == 0x22 { break }
            if c < 0x20 { throw JSONParseError(offset: i, message: "control character \(Self.describe(c)) inside a string") }
            if c != 0x5C {
                i += 1
                continue
            }
            if !escaped {
                out.reserveCapacity(i - runStart + 16)
                escaped = true
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
            i = try decodeEscape(at: i, into: &out)
            runStart = i
        }
        let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])
        offset = i + 1
        if !escaped {
            guard UTF8Check.isValid(run) else { throw JSONParseError(offset: start, message: "string is not valid UTF-8") }
            return String(decoding: run, as: UTF8.self)
        }
        out.append(contentsOf: run)
        let valid = out.withUnsafeBytes { UTF8Check.isValid($0) }
        guard valid else { throw JSONParseError(offset: start, message: "string is not valid UTF-8") }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads a number literal and returns its text.
    public mutating func readNumber() throws(JSONParseError) -> String {
        skipWhitespace()
        let start = offset
        let bound = start + limits.maxNumberLength + 1  // never scan further
        let limit = min(bytes.count, bound)
        var i = offset
        func isDigit(_ i: Int) -> Bool { i < limit && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        if i < limit, bytes[i] == 0x2D { i += 1 }
        guard isDigit(i) else { throw JSONParseError(offset: start, message: "invalid number") }
        if bytes[i] == 0x30 {
            i += 1
        } else {
            while isDigit(i) { i += 1 }
        }
        if i < limit, bytes[i] == 0x2E {
            i += 1
            guard isDigit(i) || i == bound else { throw JSONParseError(offset: start, message: "invalid number (no digit after '.')") }
            while isDigit(i) { i += 1 }
        }
        if i < limit, bytes[i] == 0x65 || bytes[i] == 0x45 {
            i += 1
            if i < limit, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
            guard isDigit(i) || i == bound else { throw JSONParseError(offset: start, message: "invalid number (no digit in the exponent)") }
            while isDigit(i) { i += 1 }
        }
        if i - start > limits.maxNumberLength {
            throw JSONParseError(offset: start, message: "number longer than \(limits.maxNumberLength) characters")
        }
        offset = i
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
    }

    /// Decodes the escape starting at the backslash at `i`; returns the offset after it.
    private func decodeEscape(at i: Int, into out: inout [UInt8]) throws(JSONParseError) -> Int {
        guard i + 1 < bytes.count else { throw JSONParseError(offset: i, message: "unterminated escape") }
        switch bytes[i + 1] {
        case 0x22, 0x5C, 0x2F: out.append(bytes[i + 1])
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0C)
        case 0x6E: out.append(0x0A)
        case 0x72: out.append(0x0D)
        case 0x74: out.append(0x09)
        case 0x75:
            var scalar = try hex4(at: i + 2)
            var next = i + 6
            if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw JSONParseError(offset: i, message: "lone low surrogate \\u\(String(scalar, radix: 16)) in a string")
            }
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard next + 1 < bytes.count, bytes[next] == 0x5C, bytes[next + 1] == 0x75 else {
                    throw JSONParseError(offset: i, message: "lone high surrogate \\u\(String(scalar, radix: 16)) in a string")
                }
                let low = try hex4(at: next + 2)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw JSONParseError(offset: i, message: "high surrogate \\u\(String(scalar, radix: 16)) not followed by a low one")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                next += 6
            }
            guard let u = Unicode.Scalar(scalar) else { throw JSONParseError(offset: i, message: "invalid \\u escape") }
            out.append(contentsOf: u.utf8)
            return next
        default:
            throw JSONParseError(offset: i, message: "invalid escape \\\(Self.printable(bytes[i + 1]))")
        }
        return i + 2
    }

    /// Four hex digits at `i`.
    private func hex4(at i: Int) throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw JSONParseError(offset: i, message: "truncated \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[i + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw JSONParseError(offset: i, message: "invalid hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard offset + n <= bytes.count else { throw error("invalid literal") }
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: n)
        for k in 0..<n where bytes[offset + k] != w[k] { throw error("invalid literal") }
        offset += n
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws(JSONParseError) {
        guard let next = peek() else { throw error("unexpected end of document, expected \(what)") }
        guard next == c else { throw error("expected \(what), found \(Self.describe(next))") }
        offset += 1
    }

    /// `'x'` for a printable ASCII byte, `byte 0xNN` otherwise.
    static func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x" + String(c, radix: 16, uppercase: true)
    }

    private static func printable(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? String(Character(Unicode.Scalar(c))) : "x" + String(c, radix: 16)
    }

    /// A string quoted for a one-line message: control and format characters escaped, long
    /// strings cut (see `PrintableName`).
    static func quote(_ s: String) -> String { "\"" + PrintableName.of(s) + "\"" }
}
