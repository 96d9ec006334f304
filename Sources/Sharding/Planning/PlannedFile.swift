/// One output file of a plan and its tensors in writing order.
public struct PlannedFile: Sendable, Hashable {
    /// The output file.
    public var file: ShardFile
    /// Its tensors.
    public var tensors: [PlannedTensor]

    /// Creates a planned file.
    public init(file: ShardFile, tensors: [PlannedTensor]) {
        self.file = file
        self.tensors = tensors
    }
}
