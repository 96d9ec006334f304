/// One pipeline stage: a contiguous range of transformer blocks whose parameters and
/// activations are resident together. Stages hand activations to each other only through a
/// `StageBoundary`, so a later scale-out can run each stage on its own rank.
public struct PipelineStage: Sendable, Equatable {
    /// Position of the stage in the pipeline (0 = the one after the embedding).
    public let index: Int
    /// The blocks it runs (`layers.{i}` for i in the range).
    public let blocks: Range<Int>

    /// A stage running `blocks`.
    public init(index: Int, blocks: Range<Int>) {
        self.index = index
        self.blocks = blocks
    }

    /// `layers` blocks cut into stages of `perStage` blocks (the last one may be shorter).
    public static func partition(layers: Int, perStage: Int) -> [PipelineStage] {
        let k = max(1, perStage)
        return stride(from: 0, to: layers, by: k).enumerated().map { i, start in
            PipelineStage(index: i, blocks: start..<min(layers, start + k))
        }
    }
}
