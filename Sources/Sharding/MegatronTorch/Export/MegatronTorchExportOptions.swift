/// Choices of a Megatron `torch`-format export that the tensors and metadata do not settle.
public struct MegatronTorchExportOptions: Sendable, Hashable {
    /// Tensor names to write: nil takes the source's `transformer_impl` when the metadata holds
    /// Megatron args, else the local spec (ckpt's own names).
    public var naming: MegatronNaming?
    /// `tokenizer_type` for a fresh args Namespace (see `MegatronArgs.namespace`).
    public var tokenizerType: String?
    /// Data-parallel size recorded in the args; nil keeps the source's, else 1.
    public var dataParallel: Int?

    /// Creates options.
    public init(naming: MegatronNaming? = nil, tokenizerType: String? = nil, dataParallel: Int? = nil) {
        self.naming = naming
        self.tokenizerType = tokenizerType
        self.dataParallel = dataParallel
    }
}
