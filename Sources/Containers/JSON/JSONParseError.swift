/// A JSON document that breaks the grammar or a `JSONLimits` bound: what is wrong and at which
/// byte of the document.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem from the start of the document.
    public var offset: Int
    /// What is wrong (`expected ':' after an object key`, `duplicate key "dtype"` ...).
    public var message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// `<message> at byte <offset>`.
    public var description: String { "\(message) at byte \(offset)" }
}
