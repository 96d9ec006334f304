/// The logical element type of a tensor, as recorded in each dataset's `dtype` attribute.
public enum DType: String, Sendable, CaseIterable, Codable, Hashable {
    /// IEEE 754 binary32.
    case float32
    /// IEEE 754 binary16.
    case float16
    /// bfloat16: the upper 16 bits of a binary32 (8-bit exponent, 7-bit mantissa).
    case bfloat16
    /// IEEE 754 binary64.
    case float64
    /// Signed 8-bit integer.
    case int8
    /// Signed 16-bit integer.
    case int16
    /// Signed 32-bit integer.
    case int32
    /// Signed 64-bit integer.
    case int64
    /// Unsigned 8-bit integer.
    case uint8
    /// Boolean, one byte holding 0 or 1.
    case bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .bfloat16, .int16: return 2
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }

    /// Whether the type is a floating-point type (NaN/Inf scans apply).
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }

    /// Parses a dtype name as written in the `dtype` attribute, or the short CLI spellings
    /// `fp32`, `fp16`, `bf16`, `fp64`.
    public init(parsing text: String) throws(StoreError) {
        switch text.lowercased() {
        case "fp32", "f32": self = .float32
        case "fp16", "f16", "half": self = .float16
        case "bf16": self = .bfloat16
        case "fp64", "f64", "double": self = .float64
        default:
            guard let d = DType(rawValue: text.lowercased()) else {
                throw .invalidArgument(
                    "unknown dtype '\(text)' (expected one of: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            self = d
        }
    }
}
