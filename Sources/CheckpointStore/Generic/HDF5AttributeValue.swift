/// The value of one HDF5 attribute of a file ckpt did not write (h5py's types): strings,
/// numbers, h5py's booleans (an enum over int8 with members FALSE and TRUE) and opaque bytes
/// (`numpy.void`). Arrays are flattened in C order with their shape.
public enum HDF5AttributeValue: Sendable, Hashable {
    /// A string, or an array of strings (variable- or fixed-length, UTF-8 or ASCII).
    case strings([String], shape: [Int])
    /// Integers of any width and sign, widened to Int64 (values past its range are refused).
    case integers([Int64], shape: [Int])
    /// Floating-point values, widened to Double.
    case floats([Double], shape: [Int])
    /// h5py booleans.
    case bools([Bool], shape: [Int])
    /// Opaque bytes (`numpy.void`), the whole attribute.
    case opaque([UInt8])
    /// A type ckpt does not read; the detail names it.
    case unsupported(String)

    /// The single string of a scalar (or one-element) string attribute, or nil.
    public var string: String? {
        if case .strings(let s, _) = self, s.count == 1 { return s[0] }
        return nil
    }

    /// The single number of a scalar integer or float attribute, as Double, or nil.
    public var number: Double? {
        switch self {
        case .integers(let v, _) where v.count == 1: return Double(v[0])
        case .floats(let v, _) where v.count == 1: return v[0]
        default: return nil
        }
    }

    /// The single value of a scalar boolean attribute, or nil.
    public var bool: Bool? {
        if case .bools(let v, _) = self, v.count == 1 { return v[0] }
        return nil
    }
}
