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
        var o = object
        for k in nullable where o[k] == nil { o[k] = NSNull() }
        for (k, v) in extra { o[k] = v }
        o["exit_code"] = Int(exitCode)
        o["ok"] = exitCode == ExitPolicy.ok
        o["verdict"] = exitCode == ExitPolicy.ok ? "ok" : exitCode == ExitPolicy.bad && o["error"] == nil ? "fail" : "error"
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
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
