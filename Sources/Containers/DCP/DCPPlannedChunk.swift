/// One chunk of a DCP write plan: the box of the global tensor it holds and the data file
/// (`__<rank>_<k>.distcp`, see `DCPFileName.data`) its item goes to.
public struct DCPPlannedChunk: Sendable, Hashable {
    /// The part of the global tensor.
    public var box: TensorBox
    /// The data file, relative to the checkpoint directory.
    public var file: String

    /// Creates a planned chunk.
    public init(box: TensorBox, file: String) {
        self.box = box
        self.file = file
    }
}
