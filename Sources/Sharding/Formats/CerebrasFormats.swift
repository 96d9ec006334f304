import CheckpointStore
import Containers
import Foundation

/// Cerebras `.mdl` files (`cstorch.save`, format 0.5) as a source and a target of conversions:
/// the `cerebras` layout (Model Zoo names, `formats/layouts/cerebras-*.json`) in one HDF5 file,
/// optimizer state included.
public enum CerebrasFormats {
    /// The format's name.
    public static let name = "cerebras"
    /// The container name of its files.
    public static let containerFormat = "cstorch"

    /// The source format.
    public static func source() -> any SourceFormat { CerebrasSource() }

    /// The target format; chunks compressed with the writer options' codec (shuffle + zstd by
    /// default, which cstorch's reader opens through hdf5plugin), or with hdf5plugin's LZ4
    /// (cstorch's own default) when `lz4`.
    public static func target(lz4: Bool = false) -> any TargetFormat { CerebrasTarget(lz4: lz4) }

    /// Whether `path` is a file HDF5 opens whose root has cstorch's `__spec__` and `__version__`.
    public static func recognizes(_ path: String) -> Bool {
        (try? FileKind.sniff(path)) == .cerebras
    }
}
