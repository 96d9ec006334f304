import CheckpointStore
import Testing

@testable import Containers

/// Builds safetensors files byte by byte, so a test can make the header say anything.
enum SafetensorsBytes {
    /// `u64 length` + `header` + `data`; `declaredLength` overrides the length field.
    static func file(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        return file(headerBytes: h, data: data, declaredLength: declaredLength)
    }

    static func file(headerBytes h: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let n = declaredLength ?? UInt64(h.count)
        var out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
        out += h
        out += data
        return out
    }

    /// The header parsed from `bytes`, or the error.
    static func parse(_ bytes: [UInt8], path: String = "t.safetensors") -> Result<SafetensorsHeader, ContainerError> {
        bytes.withUnsafeBytes { b in
            do throws(ContainerError) { return .success(try SafetensorsHeader.parse(file: b, path: path)) } catch { return .failure(error) }
        }
    }

    /// The error parsing `bytes` fails with (nil when it parses).
    static func error(_ bytes: [UInt8]) -> ContainerError? {
        if case .failure(let e) = parse(bytes) { return e }
        return nil
    }

    /// A valid two-tensor file: `a` F32 [2, 3] = 0..5, `b` I64 [2] = [7, -1], metadata format=pt.
    static let valid: [UInt8] = {
        let header =
            #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]}}"#
        var data: [UInt8] = []
        for i in 0..<6 { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { data += $0 } }
        for v: Int64 in [7, -1] { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        return file(header, data: data)
    }()

    /// `count` zero bytes.
    static func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }
}
