import Containers

/// One value of a torchtitan job config being read, with its dotted location
/// (`model_spec.model.layers[1].attention.n_heads`), so every error names the member, the file
/// and what was found.
struct TorchtitanConfigNode {
    let value: JSONValue
    /// Where the value sits in the document.
    let location: String
    /// The file, for messages.
    let path: String

    /// An error about this value.
    func bad(_ detail: String) -> ContainerError {
        .malformed(path: path, detail: "\(location.isEmpty ? "the document" : location): \(detail)")
    }

    private func child(_ key: String) -> String { location.isEmpty ? key : location + "." + key }

    /// The member `key` of this object; absent is an error saying what ckpt needs it for.
    func member(_ key: String, neededFor why: String) throws(ContainerError) -> TorchtitanConfigNode {
        guard let o = value.objectValue else { throw bad("expected an object, found \(value.kindDescription)") }
        guard let v = o[key] else {
            throw .malformed(path: path, detail: "\(child(key)): missing (ckpt needs it for \(why))")
        }
        return TorchtitanConfigNode(value: v, location: child(key), path: path)
    }

    /// The member `key`, nil when absent or null.
    func optionalMember(_ key: String) throws(ContainerError) -> TorchtitanConfigNode? {
        guard let o = value.objectValue else { throw bad("expected an object, found \(value.kindDescription)") }
        guard let v = o[key], !v.isNull else { return nil }
        return TorchtitanConfigNode(value: v, location: child(key), path: path)
    }

    /// The elements of this array.
    func elements() throws(ContainerError) -> [TorchtitanConfigNode] {
        guard let a = value.arrayValue else { throw bad("expected a list, found \(value.kindDescription)") }
        return a.enumerated().map { TorchtitanConfigNode(value: $1, location: "\(location)[\($0)]", path: path) }
    }

    /// This value as a positive integer.
    func positiveInt() throws(ContainerError) -> Int {
        guard let i = value.intValue, i > 0 else { throw bad("expected a positive integer, found \(describe)") }
        return i
    }

    /// This value as a finite number.
    func number() throws(ContainerError) -> Double {
        guard let d = value.doubleValue, d.isFinite else { throw bad("expected a number, found \(describe)") }
        return d
    }

    /// This value as a bool.
    func bool() throws(ContainerError) -> Bool {
        guard let b = value.boolValue else { throw bad("expected true or false, found \(describe)") }
        return b
    }

    /// This value as a string.
    func string() throws(ContainerError) -> String {
        guard let s = value.stringValue else { throw bad("expected a string, found \(describe)") }
        return s
    }

    /// The value, shortly, for messages.
    var describe: String {
        let text = JSONText.compact(value)
        return text.count <= 40 ? text : String(text.prefix(37)) + "..."
    }
}
