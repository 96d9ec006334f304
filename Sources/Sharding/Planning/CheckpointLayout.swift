import CheckpointStore

/// A checkpoint layout: a kind (its naming table and file set) and, for sharded kinds, the
/// tensor/pipeline-parallel shape.
///
/// `.wafer`, `.megatron(shape)` and `.hf` are the layouts ckpt knows; any `LayoutKind` works
/// the same way. The layout says nothing about the container format of the files (ckpt HDF5,
/// `torch.save`, safetensors): the same layout can live in several.
public struct CheckpointLayout: Sendable, Hashable, CustomStringConvertible {
    /// The layout kind.
    public var kind: LayoutKind
    /// The parallel shape of a sharded kind; nil for one-file kinds.
    public var shape: MegatronShape?

    /// Creates a layout; `shape` matters only for sharded kinds (missing, it means TP = PP = 1
    /// with Megatron's default vocabulary divisor).
    public init(kind: LayoutKind, shape: MegatronShape? = nil) {
        self.kind = kind
        self.shape = kind.isSharded ? (shape ?? MegatronShape(tp: 1, pp: 1)) : nil
    }

    /// One file, whole tensors, canonical names, unpadded vocabulary, separate Q/K/V.
    public static let wafer = CheckpointLayout(kind: .wafer)
    /// One file per (TP, PP) rank with megatron-core names and local shapes.
    public static func megatron(_ shape: MegatronShape) -> CheckpointLayout { CheckpointLayout(kind: .megatron, shape: shape) }
    /// Hugging Face names and shapes (Conv1D weights transposed, fused `c_attn`, unpadded vocab).
    public static let hf = CheckpointLayout(kind: .hf)

    /// The shape the rule interpreter applies: the sharded shape, or one rank without padding.
    public var effectiveShape: MegatronShape { shape ?? MegatronShape(tp: 1, pp: 1, vocabDivisibleBy: 1) }

    /// The files of this layout, in writing order.
    public var files: [ShardFile] { shape?.files ?? [.wafer] }

    /// The `layout` JSON stored in (or describing) `file`: a rank description for sharded kinds
    /// (`MegatronRankLayout`), `{"kind":"<name>"}` otherwise.
    public func layoutJSON(for file: ShardFile, config: ModelConfig) -> String {
        guard let shape else { return #"{"kind":"\#(kind.name)"}"# }
        return MegatronRankLayout(kind: kind.name, shape: shape, file: file, layers: config.layers, vocab: config.vocab).json
    }

    /// `wafer`, `hf`, `megatron(tp=T, pp=P)` or, with a virtual pipeline,
    /// `megatron(tp=T, pp=P, vpp=V)`.
    public var description: String {
        guard let s = shape else { return kind.name }
        return "\(kind.name)(tp=\(s.tp), pp=\(s.pp)\(s.vpp == 1 ? "" : ", vpp=\(s.vpp)"))"
    }
}
