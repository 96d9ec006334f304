import CheckpointStore

/// torch's dtype names (`torch.float32` → `float32`) and their mapping to ckpt's `DType`.
public enum TorchDTypeName {
    /// Element sizes of every dtype a `torch.save` file may name, ckpt-readable or not.
    static let sizes: [String: Int] = [
        "float32": 4, "float64": 8, "float16": 2, "bfloat16": 2,
        "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "bool": 1,
        "uint16": 2, "uint32": 4, "uint64": 8,
        "complex32": 4, "complex64": 8, "complex128": 16,
        "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1,
        "float4_e2m1fn_x2": 1, "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
        "bits8": 1, "bits16": 2, "bits1x8": 1, "bits2x4": 1, "bits4x2": 1,
    ]

    /// torch's short aliases (`torch.float` is `torch.float32`).
    static let aliases: [String: String] = [
        "float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32", "short": "int16",
        "cfloat": "complex64", "cdouble": "complex128", "chalf": "complex32",
    ]

    /// The canonical name of a dtype torch knows (aliases resolved), or nil.
    public static func canonical(_ torchName: String) -> String? {
        let n = aliases[torchName] ?? torchName
        return sizes[n] == nil ? nil : n
    }

    /// Bytes per element of a dtype torch knows, or nil.
    public static func elementSize(_ torchName: String) -> Int? {
        canonical(torchName).flatMap { sizes[$0] }
    }

    /// ckpt's dtype for a torch dtype name; nil for names torch knows but ckpt does not hold
    /// (`float8_e4m3fn`, `uint16`, complex ...) and for unknown names.
    public static func dtype(_ torchName: String) -> DType? {
        switch canonical(torchName) {
        case "float32": return .float32
        case "float16": return .float16
        case "bfloat16": return .bfloat16
        case "float64": return .float64
        case "int8": return .int8
        case "int16": return .int16
        case "int32": return .int32
        case "int64": return .int64
        case "uint8": return .uint8
        case "bool": return .bool
        default: return nil
        }
    }

    /// torch's name of a ckpt dtype (the attribute of the `torch` module).
    public static func name(_ dtype: DType) -> String {
        switch dtype {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .float64: return "float64"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .bool: return "bool"
        }
    }
}
