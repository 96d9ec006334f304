import Containers

/// A target format writing one container of a one-file layout through a closure: a Hugging
/// Face directory (`HFDirectoryWriter`, a directory it publishes itself), a test's in-memory
/// writer.
public struct SingleContainerTarget: TargetFormat {
    /// The layout written.
    public let layoutKind: LayoutKind
    /// The container format's name.
    public let containerFormat: String
    /// Whether the output is a directory (the writer builds and publishes it atomically).
    public let isDirectory: Bool
    /// The members of the source's user metadata the writer keeps (nil: all).
    public let keptUserMetadata: Set<String>?
    private let make: @Sendable (TargetFile) throws(ShardingError) -> any TensorContainerWriter

    /// Creates the format; `keptUserMetadata` as `TargetFormat.keptUserMetadata`.
    public init(
        layoutKind: LayoutKind, containerFormat: String, isDirectory: Bool, keptUserMetadata: Set<String>? = nil,
        makeWriter: @escaping @Sendable (TargetFile) throws(ShardingError) -> any TensorContainerWriter
    ) {
        self.layoutKind = layoutKind
        self.containerFormat = containerFormat
        self.isDirectory = isDirectory
        self.keptUserMetadata = keptUserMetadata
        self.make = makeWriter
    }

    /// One writer at the output path.
    public func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure { .single(isDirectory: isDirectory) }

    /// The closure's writer.
    public func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter { try make(file) }
}
