/// A kind of checkpoint layout: how tensors are named, shaped and spread over files, independent
/// of the container format the files use.
///
/// A kind is data: its rule table (a `LayoutDocument` in `formats/layouts/`, interpreted by
/// `LayoutInterpreter`), whether its files form a tensor x pipeline-parallel grid, and whether
/// it can hold optimizer state. `megatron` is one kind whether its rank files are ckpt HDF5
/// (`model_optim_rng.h5`) or Megatron-LM's `torch.save` files (`model_optim_rng.pt`): the
/// container is chosen separately (`TargetFormat`, `SourceFormat`). Adding a layout means adding
/// a `LayoutKind` value (and to `known`, for lookup by name) and a table; no switch changes.
public struct LayoutKind: Sendable, Hashable, CustomStringConvertible {
    /// The name (`wafer`, `megatron`, `hf`), as in layout JSON and on the command line.
    public var name: String
    /// The `kind` of the rule table in the layout catalog, or nil for the canonical layout
    /// itself (wafer: canonical names and shapes, no table).
    public var table: String?
    /// Whether the files form a TP x PP grid (one file per rank, `CheckpointLayout.shape`);
    /// otherwise the layout is one file (`ShardFile.wafer`).
    public var isSharded: Bool
    /// Whether checkpoints of this layout carry optimizer state (`optimizer/exp_avg`, ...).
    /// Converting optimizer state into a layout that holds none drops it, with a note.
    public var holdsOptimizerState: Bool
    /// How messages name checkpoints of this layout ("HF checkpoints hold none").
    public var title: String

    /// Creates a layout kind.
    public init(name: String, table: String?, isSharded: Bool, holdsOptimizerState: Bool, title: String) {
        self.name = name
        self.table = table
        self.isSharded = isSharded
        self.holdsOptimizerState = holdsOptimizerState
        self.title = title
    }

    /// One file, whole canonical tensors (`formats/tensor-names.md`).
    public static let wafer = LayoutKind(name: "wafer", table: nil, isSharded: false, holdsOptimizerState: true, title: "wafer")
    /// megatron-core `GPTModel` names, TP x PP rank files (`formats/layouts/megatron-gpt.json`).
    public static let megatron = LayoutKind(name: "megatron", table: "megatron", isSharded: true, holdsOptimizerState: true, title: "Megatron")
    /// Hugging Face `transformers` state-dict names, one (logical) file
    /// (`formats/layouts/hf-gpt2.json`, `hf-llama.json`, `hf-neox.json`); no optimizer state.
    public static let hf = LayoutKind(name: "hf", table: "hf", isSharded: false, holdsOptimizerState: false, title: "HF")

    /// Cerebras Model Zoo names in one cstorch `.mdl` file, optimizer state indexed by the
    /// Model Zoo parameter order (`formats/layouts/cerebras-gpt2.json`, `cerebras-llama.json`).
    public static let cerebras = LayoutKind(name: "cerebras", table: "cerebras", isSharded: false, holdsOptimizerState: true, title: "Cerebras")

    /// torchtitan's Llama3Model names in one (logical) PyTorch DCP directory, optimizer state
    /// keyed by parameter (`formats/layouts/torchtitan-llama.json`).
    public static let torchtitan = LayoutKind(
        name: "torchtitan", table: "torchtitan", isSharded: false, holdsOptimizerState: true, title: "torchtitan")

    /// Every kind ckpt knows, for lookup by name.
    public static let known: [LayoutKind] = [.wafer, .megatron, .hf, .cerebras, .torchtitan]

    /// The known kind called `name`, or nil.
    public static func named(_ name: String) -> LayoutKind? { known.first { $0.name == name } }

    /// The name.
    public var description: String { name }
}
