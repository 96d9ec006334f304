import CheckpointStore

/// The dtype spellings cstorch records for tensors: `torch.bfloat16` in `dtypes`, the RtFx code in
/// `rtfx_dtypes` (from cerebras-appliance 2.10's `rtfx_dtype_from_np_dtype`: int8 has none, and
/// `cstorch.save` refuses int8 tensors).
enum CerebrasDTypeName {
    /// `torch.<name>` for `dtype`.
    static func torch(_ dtype: DType) -> String { "torch." + TorchDTypeName.name(dtype) }

    /// The dtype of a `torch.<name>` spelling, or nil.
    static func dtype(torch name: String) -> DType? {
        guard name.hasPrefix("torch.") else { return nil }
        return TorchDTypeName.dtype(String(name.dropFirst("torch.".count)))
    }

    /// The RtFx dtype code, or nil for dtypes cstorch cannot save.
    static func rtfx(_ dtype: DType) -> Int? {
        switch dtype {
        case .bool: return 1
        case .int16: return 3
        case .int32: return 4
        case .int64: return 5
        case .uint8: return 6
        case .float16: return 10
        case .float32: return 11
        case .float64: return 12
        case .bfloat16: return 15
        case .int8: return nil
        }
    }

    /// The dtype the data is stored as: bf16 goes to disk as int16 (cstorch's `to_numpy`), every
    /// other dtype as itself.
    static func stored(_ dtype: DType) -> DType { dtype == .bfloat16 ? .int16 : dtype }
}
