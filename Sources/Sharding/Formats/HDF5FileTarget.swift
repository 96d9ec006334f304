import CheckpointStore
import Containers

/// Writes one ckpt HDF5 checkpoint file (format v1) of a one-file layout, the wafer layout by
/// default.
public struct HDF5FileTarget: TargetFormat {
    /// The layout written.
    public let layoutKind: LayoutKind

    /// Creates the format for `layoutKind` (a one-file kind).
    public init(layoutKind: LayoutKind = .wafer) { self.layoutKind = layoutKind }

    /// `ckpt`.
    public var containerFormat: String { "ckpt" }

    /// The output path is the file.
    public func structure(for layout: CheckpointLayout, step: Int64) -> OutputStructure { .single(isDirectory: false) }

    /// An `HDF5ContainerWriter`.
    public func makeWriter(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
        try Self.writer(file)
    }

    /// An `HDF5ContainerWriter` for `file` (replacing an existing file only if allowed).
    static func writer(_ file: TargetFile) throws(ShardingError) -> any TensorContainerWriter {
        var options = file.writerOptions
        options.overwrite = file.replaceExisting
        do {
            return try HDF5ContainerWriter(path: file.path, manifest: file.manifest, metadata: file.metadata, options: options)
        } catch { throw .from(error) }
    }
}
