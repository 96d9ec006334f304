/// A checkpoint layout: the single-file wafer layout or a Megatron tensor/pipeline-parallel one.
public enum CheckpointLayout: Sendable, Hashable, CustomStringConvertible {
    /// One file, whole tensors, canonical names, unpadded vocabulary, separate Q/K/V.
    case wafer
    /// One file per (TP, PP) rank with megatron-core names and local shapes.
    case megatron(MegatronShape)

    /// The files of this layout, in writing order.
    public var files: [ShardFile] {
        switch self {
        case .wafer: return [.wafer]
        case .megatron(let shape): return shape.files
        }
    }

    /// `wafer` or `megatron(tp=T, pp=P)`.
    public var description: String {
        switch self {
        case .wafer: return "wafer"
        case .megatron(let s): return "megatron(tp=\(s.tp), pp=\(s.pp))"
        }
    }
}
