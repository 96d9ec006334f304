import CheckpointStore
import Containers

/// A source format whose input is one container holding a one-file layout: a Hugging Face
/// directory (`HFCheckpointDirectory`, layout `hf`), a plain `pytorch_model.bin`, or a test's
/// in-memory container. The closures do the format-specific work:
///
/// ```swift
/// SingleContainerSource(name: "hf", layoutKind: .hf, recognizes: { HFCheckpointDirectory.looksLike($0) }) { path in
///     let dir = try HFCheckpointDirectory(path: path)          // map its errors with ShardingError.from
///     return (dir, CheckpointMetadata(modelConfig: dir.modelConfig))
/// }
/// ```
public struct SingleContainerSource: SourceFormat {
    /// The format's name.
    public let name: String
    /// The layout its containers hold.
    public let layoutKind: LayoutKind
    private let probe: @Sendable (String) -> Bool
    private let opener: @Sendable (String) throws(ShardingError) -> (container: any TensorContainer, metadata: CheckpointMetadata)

    /// Creates the format: `recognizes` judges a path by content; `open` opens it and returns
    /// the container and the metadata (with `modelConfig`; `layoutJSON` is set here).
    public init(
        name: String, layoutKind: LayoutKind, recognizes: @escaping @Sendable (String) -> Bool,
        open: @escaping @Sendable (String) throws(ShardingError) -> (container: any TensorContainer, metadata: CheckpointMetadata)
    ) {
        self.name = name
        self.layoutKind = layoutKind
        self.probe = recognizes
        self.opener = open
    }

    /// Whatever `recognizes` says.
    public func recognizes(_ path: String) -> Bool { probe(path) }

    /// Opens the container (metadata checksums are the container's business: these formats
    /// have none).
    public func open(_ path: String, checkMetadata: Bool) throws(ShardingError) -> OpenedSource {
        let (container, m) = try opener(path)
        guard let config = m.modelConfig else { throw .missingModelConfig(path: path) }
        let layout = CheckpointLayout(kind: layoutKind)
        var metadata = m
        metadata.layoutJSON = layout.layoutJSON(for: .wafer, config: config)
        let opener = self.opener
        return OpenedSource(
            formatName: name, layout: layout, config: config, metadata: metadata, paths: [.wafer: path],
            inventories: [.wafer: container.tensors], open: [.wafer: container], verifiesChecksums: container.verifiesChecksums,
            reopen: { (_: ShardFile) throws(ShardingError) -> any TensorContainer in try opener(path).container })
    }
}
