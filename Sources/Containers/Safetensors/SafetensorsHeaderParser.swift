import CheckpointStore

/// Walks the JSON text of a safetensors header by its schema (see `SafetensorsHeader`),
/// keeping only the entries and the metadata.
struct SafetensorsHeaderParser {
    private var reader: JSONReader
    private let path: String

    init(text: UnsafeRawBufferPointer, path: String) {
        reader = JSONReader(text, limits: SafetensorsHeader.jsonLimits)
        self.path = path
    }

    /// The entries in header order (sizes checked, tiling not yet) and the metadata.
    mutating func parse() throws(ContainerError) -> ([SafetensorsEntry], [String: String]) {
        guard reader.peek() == 0x7B else {
            if reader.peek() == nil { throw .malformed(path: path, detail: "header is empty (only whitespace)") }
            throw .malformed(path: path, detail: "header is not a JSON object")
        }
        try json { (r: inout JSONReader) throws(JSONParseError) in try r.beginObject() }
        var entries: [SafetensorsEntry] = []
        var metadata: [String: String]? = nil
        var seen = Set<String>()
        var first = true
        while let key = try json({ (r: inout JSONReader) throws(JSONParseError) in try r.nextKey(&first) }) {
            guard seen.insert(key).inserted else {
                throw .malformed(path: path, detail: "duplicate key \(quote(key)) in the header at byte \(8 + reader.lastKeyOffset)")
            }
            if key == "__metadata__" {
                metadata = try parseMetadata()
            } else {
                entries.append(try parseEntry(name: key))
            }
        }
        try json { (r: inout JSONReader) throws(JSONParseError) in try r.finish() }
        return (entries, metadata ?? [:])
    }

    /// `"__metadata__": {"k": "v", ...}`.
    private mutating func parseMetadata() throws(ContainerError) -> [String: String] {
        guard reader.peek() == 0x7B else { throw .malformed(path: path, detail: "__metadata__ is not an object of strings") }
        try json { (r: inout JSONReader) throws(JSONParseError) in try r.beginObject() }
        var out: [String: String] = [:]
        var first = true
        while let key = try json({ (r: inout JSONReader) throws(JSONParseError) in try r.nextKey(&first) }) {
            guard out[key] == nil else {
                throw .malformed(path: path, detail: "duplicate key \(quote(key)) in __metadata__ at byte \(8 + reader.lastKeyOffset)")
            }
            guard reader.peek() == 0x22 else {
                let found = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readValue(depth: 3) }
                throw .malformed(path: path, detail: "__metadata__ value of \(quote(key)) is \(found.kindDescription), not a string")
            }
            out[key] = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readString() }
        }
        return out
    }

    /// `"name": {"dtype": .., "shape": [..], "data_offsets": [b, e]}`; unknown members are
    /// parsed (and so checked) and dropped, as safetensors ignores them.
    private mutating func parseEntry(name: String) throws(ContainerError) -> SafetensorsEntry {
        guard reader.peek() == 0x7B else { throw bad(name, "header entry is not an object") }
        try json { (r: inout JSONReader) throws(JSONParseError) in try r.beginObject() }
        var dtype: SafetensorsDType? = nil
        var shape: [Int]? = nil
        var offsets: [Int]? = nil
        var seen = Set<String>()
        var first = true
        while let key = try json({ (r: inout JSONReader) throws(JSONParseError) in try r.nextKey(&first) }) {
            guard seen.insert(key).inserted else { throw bad(name, "key \(quote(key)) appears twice in its header entry") }
            switch key {
            case "dtype":
                guard reader.peek() == 0x22 else { throw bad(name, "dtype is not a string") }
                let s = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readString() }
                guard let d = SafetensorsDType(rawValue: s) else { throw bad(name, "unknown dtype \(quote(s))") }
                dtype = d
            case "shape":
                shape = try integers(of: name, field: "shape", max: SafetensorsHeader.maxRank)
            case "data_offsets":
                let o = try integers(of: name, field: "data_offsets", max: 2)
                guard o.count == 2 else { throw bad(name, "data_offsets has \(o.count) numbers, not 2") }
                offsets = o
            default:
                _ = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readValue(depth: 3) }
            }
        }
        guard let dtype else { throw bad(name, "header entry has no dtype") }
        guard let shape else { throw bad(name, "header entry has no shape") }
        guard let offsets else { throw bad(name, "header entry has no data_offsets") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw bad(name, "data_offsets [\(begin), \(end)] end before they begin") }
        var count = 1
        for d in shape {
            let (c, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw bad(name, "shape \(shape) has more elements than fit in 64 bits") }
            count = c
        }
        let (bits, o) = count.multipliedReportingOverflow(by: dtype.bits)
        guard !o else { throw bad(name, "shape \(shape) of \(dtype.rawValue) needs more bytes than fit in 64 bits") }
        guard bits % 8 == 0 else {
            throw bad(name, "\(count) elements of \(dtype.rawValue) (\(dtype.bits) bits each) do not fill whole bytes")
        }
        guard end - begin == bits / 8 else {
            throw bad(name, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtype.rawValue) \(shape) needs \(bits / 8)")
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// An array of at most `max` non-negative integers.
    private mutating func integers(of name: String, field: String, max: Int) throws(ContainerError) -> [Int] {
        guard reader.peek() == 0x5B else { throw bad(name, "\(field) is not an array") }
        try json { (r: inout JSONReader) throws(JSONParseError) in try r.beginArray() }
        var out: [Int] = []
        var first = true
        while try json({ (r: inout JSONReader) throws(JSONParseError) in try r.nextElement(&first) }) {
            guard out.count < max else { throw bad(name, "\(field) has more than \(max) entries") }
            let c = reader.peek()
            guard let c, c == 0x2D || (c >= 0x30 && c <= 0x39) else {
                let v = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readValue(depth: 3) }
                throw bad(name, "\(field) holds \(v.kindDescription), not a non-negative integer")
            }
            let text = try json { (r: inout JSONReader) throws(JSONParseError) in try r.readNumber() }
            guard c != 0x2D else { throw bad(name, "\(field) holds the negative number \(text)") }
            guard let v = JSONValue.number(text).intValue else {
                if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                    throw bad(name, "\(field) holds \(text), not a non-negative integer")
                }
                throw bad(name, "\(field) holds \(text), which does not fit in 64 bits")
            }
            out.append(v)
        }
        return out
    }

    /// Runs one reader step, turning a JSON error into a one-line message with its file offset.
    private mutating func json<T>(_ step: (inout JSONReader) throws(JSONParseError) -> T) throws(ContainerError) -> T {
        do {
            return try step(&reader)
        } catch {
            throw .malformed(path: path, detail: "header JSON: \(error.message) at byte \(8 + error.offset) of the file")
        }
    }

    private func bad(_ name: String, _ detail: String) -> ContainerError {
        .badTensor(path: path, tensor: PrintableName.of(name), detail: detail)
    }

    private func quote(_ s: String) -> String { JSONReader.quote(s) }
}
