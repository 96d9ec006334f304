import Foundation

/// The JSON documents `ckpt ... --json` prints: exactly one per run, on stdout, on every exit.
///
/// Every document is an object with `ok` (bool), `verdict` (`"ok"`, `"fail"` — a check failed —
/// or `"error"` — the command could not do its work) and `exit_code`; an error document adds
/// `error`, the one-line message. Common keys: `path` the input checkpoint, `output` what was
/// written; absent values are `null`, never missing.
enum JSONDocument {
    /// Whether the command line asks for JSON (checked before parsing, so that argument errors
    /// are reported as JSON too).
    static var requested: Bool { CommandLine.arguments.dropFirst().contains("--json") }

    /// `value`'s JSON object with the common keys merged in; `nullable` keys missing from the
    /// encoding become `null`, and `extra` entries (already JSON-compatible) are added.
    static func text(
        _ value: some Encodable, exitCode: Int32 = ExitPolicy.ok, nullable: [String] = [], extra: [String: Any] = [:]
    ) -> String {
        var object: [String: Any] = [:]
        if let data = try? JSONEncoder().encode(value), let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            object = o
        }
        return text(object: object, exitCode: exitCode, nullable: nullable, extra: extra)
    }

    /// `object` with the common keys merged in.
    static func text(object: [String: Any], exitCode: Int32, nullable: [String] = [], extra: [String: Any] = [:]) -> String {
        // Optionals the libraries' reports leave out when nil.
        var o = nullFilled(object, rules: ["failures": ["tensor"], "tensors": ["worst_element"]]) as? [String: Any] ?? object
        for k in nullable where o[k] == nil { o[k] = NSNull() }
        for (k, v) in extra { o[k] = v }
        o["exit_code"] = Int(exitCode)
        o["ok"] = exitCode == ExitPolicy.ok
        o["verdict"] = exitCode == ExitPolicy.ok ? "ok" : exitCode == ExitPolicy.bad && o["error"] == nil ? "fail" : "error"
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` with absent optional keys made explicit: every object inside an array under key
    /// `k` (at any depth) gets `null` for each key of `rules[k]` it lacks.
    static func nullFilled(_ value: Any, rules: [String: [String]]) -> Any {
        if let array = value as? [Any] { return array.map { nullFilled($0, rules: rules) } }
        guard var object = value as? [String: Any] else { return value }
        for (k, v) in object {
            var filled = nullFilled(v, rules: rules)
            if let keys = rules[k], let items = filled as? [Any] {
                filled = items.map { item -> Any in
                    guard var o = item as? [String: Any] else { return item }
                    for key in keys where o[key] == nil { o[key] = NSNull() }
                    return o
                }
            }
            object[k] = filled
        }
        return object
    }

    /// The error document: `{"ok": false, "verdict": "error", "error": message, "exit_code": code}`.
    static func error(_ message: String, exitCode: Int32) -> String {
        text(object: ["error": message], exitCode: exitCode)
    }

    /// Parses a JSON text stored in the checkpoint (layout, user_metadata) into a JSON value,
    /// or `null` when absent; text that does not parse is kept as a string.
    static func value(ofJSONText text: String?) -> Any {
        guard let text else { return NSNull() }
        if let v = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) { return v }
        return text
    }
}
