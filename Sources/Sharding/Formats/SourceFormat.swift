/// A way of reading checkpoints: it recognises its inputs by content and opens them as a
/// layout, a model configuration, metadata and per-file tensor containers.
///
/// ckpt's own formats are `HDF5FileSource` (one file) and `MegatronDirectorySource` over a
/// `MegatronRankFormat` (rank directories); other containers plug in as further conformances
/// (or with `SingleContainerSource`) listed in a `FormatRegistry`.
public protocol SourceFormat: Sendable {
    /// A short name for reports (`ckpt`, `megatron`, `megatron-torch`, `hf`).
    var name: String { get }
    /// Whether `path` is an input of this format, judged from its content (not its name).
    /// Cheap: a look at the directory listing or the first bytes.
    func recognizes(_ path: String) -> Bool
    /// Opens `path`. Each file's metadata checksum is checked where the format has one, unless
    /// `checkMetadata` is false.
    func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource
}
