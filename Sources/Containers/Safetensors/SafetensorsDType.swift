import CheckpointStore

/// Every element type a safetensors header may name (safetensors 0.8's `Dtype`), with its width
/// in bits and the `DType` ckpt reads it as, where there is one.
public enum SafetensorsDType: String, Sendable, CaseIterable, Hashable {
    /// Boolean, one byte.
    case bool = "BOOL"
    /// 4-bit float (E2M1), two per byte.
    case f4 = "F4"
    /// 6-bit float E2M3.
    case f6e2m3 = "F6_E2M3"
    /// 6-bit float E3M2.
    case f6e3m2 = "F6_E3M2"
    /// Unsigned 8-bit integer.
    case u8 = "U8"
    /// Signed 8-bit integer.
    case i8 = "I8"
    /// 8-bit float E5M2.
    case f8e5m2 = "F8_E5M2"
    /// 8-bit float E4M3.
    case f8e4m3 = "F8_E4M3"
    /// 8-bit exponent-only scale E8M0.
    case f8e8m0 = "F8_E8M0"
    /// 8-bit float E4M3, finite, unsigned zero.
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    /// 8-bit float E5M2, finite, unsigned zero.
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    /// Signed 16-bit integer.
    case i16 = "I16"
    /// Unsigned 16-bit integer.
    case u16 = "U16"
    /// IEEE binary16.
    case f16 = "F16"
    /// bfloat16.
    case bf16 = "BF16"
    /// Signed 32-bit integer.
    case i32 = "I32"
    /// Unsigned 32-bit integer.
    case u32 = "U32"
    /// IEEE binary32.
    case f32 = "F32"
    /// Complex of two binary32.
    case c64 = "C64"
    /// IEEE binary64.
    case f64 = "F64"
    /// Signed 64-bit integer.
    case i64 = "I64"
    /// Unsigned 64-bit integer.
    case u64 = "U64"

    /// Bits per element.
    public var bits: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// The element type ckpt reads this as, or nil for types ckpt lists but does not read.
    public var ckptType: DType? {
        switch self {
        case .f32: return .float32
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f64: return .float64
        case .i8: return .int8
        case .i16: return .int16
        case .i32: return .int32
        case .i64: return .int64
        case .u8: return .uint8
        case .bool: return .bool
        default: return nil
        }
    }

    /// The safetensors name of a ckpt element type (every `DType` has one).
    public init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .f32
        case .float16: self = .f16
        case .bfloat16: self = .bf16
        case .float64: self = .f64
        case .int8: self = .i8
        case .int16: self = .i16
        case .int32: self = .i32
        case .int64: self = .i64
        case .uint8: self = .u8
        case .bool: self = .bool
        }
    }
}
