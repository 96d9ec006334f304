import CheckpointStore

// Temporary until h-torch's `TorchDTypeName` (Containers) is merged; delete this file then.
enum TorchDTypeName {
    static func dtype(_ torchName: String) -> DType? { DType(rawValue: torchName) }
    static func name(_ dtype: DType) -> String { dtype.rawValue }
}
