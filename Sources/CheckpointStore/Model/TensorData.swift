/// A tensor held in memory: element type, shape and little-endian C-order bytes.
public struct TensorData: Sendable, Equatable {
    /// Element type.
    public var dtype: DType
    /// Shape ([] for a scalar).
    public var shape: [Int]
    /// Raw bytes, `shape.product * dtype.size` of them.
    public var bytes: [UInt8]

    /// Wraps existing bytes.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A float32 tensor from values.
    public init(shape: [Int], floats: [Float]) {
        dtype = .float32
        self.shape = shape
        bytes = floats.withUnsafeBytes { Array($0) }
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The values widened to Float (float32, float16, bfloat16 exactly; float64 rounded;
    /// integers and bool converted by value).
    public func floats() -> [Float] {
        let n = elementCount
        return bytes.withUnsafeBytes { b -> [Float] in
            [Float](unsafeUninitializedCapacity: n) { out, count in
                switch dtype {
                case .float32: for i in 0..<n { out[i] = b.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
                case .bfloat16:
                    for i in 0..<n { out[i] = HalfPrecision.float(fromBF16: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case .float16:
                    for i in 0..<n { out[i] = HalfPrecision.float(fromF16: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case .float64: for i in 0..<n { out[i] = Float(b.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
                case .int8: for i in 0..<n { out[i] = Float(b.loadUnaligned(fromByteOffset: i, as: Int8.self)) }
                case .int16: for i in 0..<n { out[i] = Float(b.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
                case .int32: for i in 0..<n { out[i] = Float(b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
                case .int64: for i in 0..<n { out[i] = Float(b.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
                case .uint8, .bool: for i in 0..<n { out[i] = Float(b[i]) }
                }
                count = n
            }
        }
    }

    /// The values as Int64 (integer and bool dtypes; floats truncated toward zero).
    public func integers() -> [Int64] {
        switch dtype {
        case .int8, .int16, .int32, .int64, .uint8, .bool:
            let n = elementCount
            return bytes.withUnsafeBytes { b in
                (0..<n).map { i -> Int64 in
                    switch dtype {
                    case .int8: return Int64(b.loadUnaligned(fromByteOffset: i, as: Int8.self))
                    case .int16: return Int64(b.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
                    case .int32: return Int64(b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                    case .int64: return b.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
                    default: return Int64(b[i])
                    }
                }
            }
        default:
            return floats().map { Int64($0) }
        }
    }
}
