/// One bytes item of a DCP write plan: its fqn and the data file it goes to.
public struct DCPPlannedBytes: Sendable, Hashable {
    /// The fully qualified name.
    public var fqn: String
    /// The data file, relative to the checkpoint directory.
    public var file: String

    /// Creates a planned bytes item.
    public init(fqn: String, file: String) {
        self.fqn = fqn
        self.file = file
    }
}
