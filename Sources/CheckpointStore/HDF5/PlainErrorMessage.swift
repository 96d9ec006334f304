import Foundation

/// One-line messages for errors that come from Foundation and the standard library — JSON
/// decoding above all — in words a user can act on and without Swift type names
/// (`model_config: key 'layers' is missing`, `model_config.layers: expected an integer, found a
/// string`).
public enum PlainErrorMessage {
    /// The message for a failure to decode the JSON document `json`, called `root` in the
    /// message (`model_config`, `layout`; empty for none).
    public static func decoding(_ error: any Error, json: String?, root: String) -> String {
        let doc = json.flatMap { try? JSONDecoder().decode(Shape.self, from: Data($0.utf8)) }
        guard let e = error as? DecodingError else { return prefix(root, []) + describe(error) }
        switch e {
        case .keyNotFound(let key, let ctx):
            return prefix(root, ctx.codingPath) + "key '\(key.stringValue)' is missing"
        case .valueNotFound(let type, let ctx):
            return prefix(root, ctx.codingPath) + "expected \(kind(of: type)), found null"
        case .typeMismatch(let type, let ctx):
            let found = doc?.at(ctx.codingPath)?.kind ?? "a value of another kind"
            return prefix(root, ctx.codingPath) + "expected \(kind(of: type)), found \(found)"
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty && doc == nil { return prefix(root, []) + "not valid JSON" }
            // Valid JSON refused without a path: Foundation's decoder on Linux reports a number
            // that does not fit an integer key this way.
            if ctx.codingPath.isEmpty {
                return prefix(root, []) + "a value does not fit its key (a fraction or an out-of-range number where an integer belongs?)"
            }
            let found = doc?.at(ctx.codingPath)?.kind ?? "a value"
            return prefix(root, ctx.codingPath) + "value not accepted (found \(found), out of range or of the wrong kind)"
        @unknown default:
            return prefix(root, []) + "not a valid document"
        }
    }

    /// The message for any error: ckpt's own errors give their description, Foundation's
    /// their localized text, decoding errors the path of the bad value.
    public static func describe(_ error: any Error) -> String {
        if error is DecodingError { return decoding(error, json: nil, root: "") }
        if let e = error as? POSIXError { return String(cString: strerror(e.code.rawValue)) }
        if let e = error as? CocoaError { return cocoa(e) }
        if error is EncodingError { return "the value cannot be written as JSON" }
        let t = type(of: error)
        if !(t is NSError.Type), t is any CustomStringConvertible.Type { return String(describing: error) }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain.contains(".") && !ns.domain.hasPrefix("NS") { return "unexpected error (code \(ns.code))" }
        return ns.localizedDescription
    }

    /// A file-system error: the file and the system's reason (Foundation on Linux words most of
    /// these as "The operation could not be completed. (NSCocoaErrorDomain error 512.)").
    private static func cocoa(_ e: CocoaError) -> String {
        let file = (e.userInfo[NSFilePathErrorKey] as? String).map { $0 + ": " } ?? ""
        if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return file + String(cString: strerror(Int32(u.code)))
        }
        let reasons: [CocoaError.Code: String] = [
            .fileNoSuchFile: "no such file", .fileReadNoSuchFile: "no such file", .fileReadNoPermission: "permission denied",
            .fileWriteNoPermission: "permission denied", .fileWriteOutOfSpace: "no space left on device",
            .fileWriteFileExists: "file exists", .fileWriteVolumeReadOnly: "read-only file system",
            .fileReadCorruptFile: "not in the expected format", .fileReadUnknown: "cannot be read", .fileWriteUnknown: "cannot be written",
        ]
        if let r = reasons[e.code] { return file + r }
        let text = e.localizedDescription
        return file + (text.contains("Domain") ? "file operation failed (code \(e.code.rawValue))" : text)
    }

    /// `root.a.b[3]: ` for a coding path (no prefix when both are empty).
    private static func prefix(_ root: String, _ path: [any CodingKey]) -> String {
        var s = root
        for k in path {
            if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : "." + k.stringValue }
        }
        return s.isEmpty ? "" : s + ": "
    }

    /// What a requested Swift type is, in JSON terms.
    private static func kind(of type: Any.Type) -> String {
        let n = String(describing: type)
        if n.hasPrefix("Int") || n.hasPrefix("UInt") { return "an integer" }
        if n == "Double" || n == "Float" || n == "Decimal" { return "a number" }
        if n == "String" || n == "Substring" { return "a string" }
        if n == "Bool" { return "true or false" }
        if n.hasPrefix("Array") || n.hasPrefix("[") && !n.contains(":") { return "an array" }
        return "an object"
    }

    /// The JSON value kinds, enough to say what was found at a path.
    private indirect enum Shape: Decodable {
        case null, bool, integer, number, string, array([Shape]), object([String: Shape])

        init(from decoder: any Decoder) throws {
            if var a = try? decoder.unkeyedContainer() {
                var items: [Shape] = []
                while !a.isAtEnd { items.append(try a.decode(Shape.self)) }
                self = .array(items)
                return
            }
            if let o = try? decoder.container(keyedBy: AnyKey.self) {
                var items: [String: Shape] = [:]
                for k in o.allKeys { items[k.stringValue] = try o.decode(Shape.self, forKey: k) }
                self = .object(items)
                return
            }
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if (try? c.decode(Bool.self)) != nil {
                self = .bool
            } else if (try? c.decode(Int64.self)) != nil {
                self = .integer
            } else if (try? c.decode(Double.self)) != nil {
                self = .number
            } else {
                self = .string
            }
        }

        /// The value at `path`, if the document has one there.
        func at(_ path: [any CodingKey]) -> Shape? {
            var cur = self
            for k in path {
                switch cur {
                case .array(let a): guard let i = k.intValue, a.indices.contains(i) else { return nil }; cur = a[i]
                case .object(let o): guard let v = o[k.stringValue] else { return nil }; cur = v
                default: return nil
                }
            }
            return cur
        }

        var kind: String {
            switch self {
            case .null: return "null"
            case .bool: return "true or false"
            case .integer: return "an integer"
            case .number: return "a number with a fraction"
            case .string: return "a string"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
