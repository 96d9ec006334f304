import CheckpointStore

/// Every local tensor of a layout for one model configuration: what each file holds and which
/// canonical rectangles each of its tensors carries. Built by `LayoutInterpreter`.
public struct LayoutMap: Sendable {
    /// The model.
    public let config: ModelConfig
    /// The layout.
    public let layout: CheckpointLayout
    /// Local tensors per file, each file's list in writing order.
    public let tensorsByFile: [ShardFile: [LocalTensor]]

    /// Creates a map.
    public init(config: ModelConfig, layout: CheckpointLayout, tensorsByFile: [ShardFile: [LocalTensor]]) {
        self.config = config
        self.layout = layout
        self.tensorsByFile = tensorsByFile
    }

    /// The files, in writing order.
    public var files: [ShardFile] { layout.files }

    /// The local tensors of `file`.
    public func tensors(in file: ShardFile) -> [LocalTensor] { tensorsByFile[file] ?? [] }

    /// All local tensors, file by file.
    public var allTensors: [LocalTensor] { files.flatMap { tensors(in: $0) } }
}
