/// Why a pytree spec could not be read.
public struct PyTreeSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
