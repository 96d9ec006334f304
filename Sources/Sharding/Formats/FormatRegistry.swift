/// The source and target formats a conversion may use.
///
/// Sources are tried in order and the first that recognises a path opens it; the standard
/// catch-alls (any directory is a Megatron directory of ckpt HDF5 rank files, any file a ckpt
/// HDF5 file) come last, so `adding(source:)` puts new formats before them. A target is looked
/// up by layout kind and container format; without a container format the first registered for
/// the kind is used (ckpt HDF5 for `wafer` and `megatron`), so `adding(target:)` appends.
///
/// The integration registers every container ckpt has here, e.g.
/// `FormatRegistry.standard.adding(source: hfSource).adding(target: hfTarget)`.
public struct FormatRegistry: Sendable {
    /// Source formats, in the order they are tried.
    public var sources: [any SourceFormat]
    /// Target formats.
    public var targets: [any TargetFormat]

    /// Creates a registry.
    public init(sources: [any SourceFormat], targets: [any TargetFormat]) {
        self.sources = sources
        self.targets = targets
    }

    /// ckpt's own formats: HDF5 files in the wafer layout and Megatron directories of HDF5
    /// rank files, both ways.
    public static let standard = FormatRegistry(
        sources: [MegatronDirectorySource(ranks: HDF5RankFormat(), acceptsAnyDirectory: true), HDF5FileSource()],
        targets: [HDF5FileTarget(), MegatronDirectoryTarget(ranks: HDF5RankFormat())])

    /// This registry with `source` tried before the existing sources.
    public func adding(source: any SourceFormat) -> FormatRegistry {
        FormatRegistry(sources: [source] + sources, targets: targets)
    }

    /// This registry with `target` added after the existing targets.
    public func adding(target: any TargetFormat) -> FormatRegistry {
        FormatRegistry(sources: sources, targets: targets + [target])
    }

    /// The first source format recognising `path`, or nil.
    public func sourceFormat(for path: String) -> (any SourceFormat)? {
        sources.first { $0.recognizes(path) }
    }

    /// The target format writing `kind` in `container` (nil: the first registered for `kind`).
    public func target(_ kind: LayoutKind, container: String? = nil) throws(ShardingError) -> any TargetFormat {
        if let t = targets.first(where: { $0.layoutKind.name == kind.name && (container == nil || $0.containerFormat == container) }) { return t }
        throw .noTargetFormat(
            layout: kind.name, container: container ?? "(default)",
            known: targets.map { "\($0.layoutKind.name)/\($0.containerFormat)" })
    }
}
