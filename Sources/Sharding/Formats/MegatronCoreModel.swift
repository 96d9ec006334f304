import CheckpointStore

/// What a model must be for Megatron-LM's own checkpoint formats (`torch`, `torch_dist`): their
/// `args` tell megatron-core how to compute the model, so a model megatron-core 0.16.1 computes
/// differently is refused before any work, though ckpt's HDF5 rank files of the same layout
/// hold it (their `model_config` says how it is computed).
///
/// GPT-NeoX's parallel residual is the case: the megatron layout table maps NeoX's tensors (they
/// split as GPT-2's do), but megatron-core's `TransformerLayer` always runs the MLP on the
/// attention block's output.
public enum MegatronCoreModel {
    /// The requirements, in the form of the layout tables' `requires`.
    public static let requirements: [LayoutRequirement] = [
        LayoutRequirement(
            field: "residual", equals: .string("sequential"),
            reason:
                "megatron-core 0.16.1's TransformerLayer runs the MLP on the attention block's output; it has no parallel residual, so Megatron-LM's formats cannot say how this model is computed (ckpt's HDF5 megatron layout, --to megatron, holds it)"
        )
    ]

    /// Throws `cannotExpress` (layout `megatron`) for a model megatron-core would compute differently.
    public static func check(_ config: ModelConfig) throws(ShardingError) {
        for r in requirements { try r.check(config, layout: "megatron", source: "megatron-core model requirements") }
    }
}
