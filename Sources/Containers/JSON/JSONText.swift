/// Writes `JSONValue`s as text: compact (safetensors headers) or the way Python's
/// `json.dumps(value, indent=2, sort_keys=True)` does (Hugging Face's config.json and index).
public enum JSONText {
    /// Compact text, members in their order, non-ASCII characters as UTF-8.
    public static func compact(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out, indent: nil, level: 0, sortKeys: false, asciiOnly: false)
        return out
    }

    /// Indented text with keys sorted by code point and non-ASCII characters escaped, as
    /// `json.dumps(value, indent=2, sort_keys=True)` writes it (no final newline).
    public static func pretty(_ value: JSONValue, sortKeys: Bool = true) -> String {
        var out = ""
        write(value, into: &out, indent: 2, level: 0, sortKeys: sortKeys, asciiOnly: true)
        return out
    }

    /// The text Python's `json.dumps(value, indent=indent)` writes (members in their order,
    /// non-ASCII escaped; without `indent`, the separators `", "` and `": "`): what Python
    /// tools that hash or compare such text (torch's `treespec_dumps`, cstorch's metadata)
    /// produce byte for byte.
    public static func python(_ value: JSONValue, indent: Int? = nil) -> String {
        var out = ""
        write(value, into: &out, indent: indent, level: 0, sortKeys: false, asciiOnly: true, spaced: indent == nil)
        return out
    }

    /// A string literal with quotes and escapes.
    public static func quoted(_ s: String, asciiOnly: Bool = false) -> String {
        var out = ""
        appendString(s, into: &out, asciiOnly: asciiOnly)
        return out
    }

    private static func write(
        _ v: JSONValue, into out: inout String, indent: Int?, level: Int, sortKeys: Bool, asciiOnly: Bool, spaced: Bool = false
    ) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let t): out += t
        case .string(let s): appendString(s, into: &out, asciiOnly: asciiOnly)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += spaced ? ", " : "," }
                newline(&out, indent, level + 1)
                write(item, into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, asciiOnly: asciiOnly, spaced: spaced)
            }
            newline(&out, indent, level)
            out += "]"
        case .object(let o):
            if o.count == 0 {
                out += "{}"
                return
            }
            var members = o.members
            if sortKeys { members.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } }
            out += "{"
            for (k, m) in members.enumerated() {
                if k > 0 { out += spaced ? ", " : "," }
                newline(&out, indent, level + 1)
                appendString(m.key, into: &out, asciiOnly: asciiOnly)
                out += indent == nil && !spaced ? ":" : ": "
                write(m.value, into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, asciiOnly: asciiOnly, spaced: spaced)
            }
            newline(&out, indent, level)
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out += "\n" + String(repeating: " ", count: indent * level)
    }

    private static func appendString(_ s: String, into out: inout String, asciiOnly: Bool) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if u.value < 0x20 || (asciiOnly && u.value >= 0x7F) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
