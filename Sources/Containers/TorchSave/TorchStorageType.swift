/// The storage classes of torch's persistent ids: the legacy typed classes (`torch.FloatStorage`,
/// counted in elements) and `UntypedStorage` (counted in bytes; the tensor carries the dtype).
enum TorchStorageType {
    /// Legacy typed storage class name → dtype name (`torch/storage.py`
    /// `_dtype_to_storage_type_map`).
    static let legacy: [String: String] = [
        "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
        "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
        "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
        "QUInt8Storage": "quint8", "QInt8Storage": "qint8", "QInt32Storage": "qint32",
        "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
    ]

    /// The dtype name and untyped-ness of a storage class global, or nil when it is none.
    static func resolve(_ g: PickleGlobal) -> (dtypeName: String, isUntyped: Bool)? {
        switch (g.module, g.name) {
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"), ("torch.storage", "_UntypedStorage"), ("torch", "_UntypedStorage"):
            return ("uint8", true)
        case ("torch", _), ("torch.cuda", _):
            return legacy[g.name].map { ($0, false) }
        default:
            return nil
        }
    }

    /// The legacy class (in module `torch`) torch writes for a dtype, or nil when torch writes
    /// `UntypedStorage` and `_rebuild_tensor_v3` for it (float8, uint16 ...).
    static func legacyClass(for dtypeName: String) -> String? {
        legacy.first { $0.value == dtypeName && !$0.key.hasPrefix("Q") }?.key
    }
}
