import Foundation

@testable import CheckpointStore

/// A fresh temporary directory per test (tests run in parallel).
func makeTempDir(_ tag: String = #function) -> String {
    let safe = tag.filter { $0.isLetter || $0.isNumber }
    let dir = NSTemporaryDirectory() + "ckpt-test-\(safe)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// The stored bytes `encoder` makes of one raw chunk whose first `valid` bytes hold data (all of
/// them when nil); nil when the encoder fails.
func encodeChunk(_ raw: [UInt8], valid: Int? = nil, _ encoder: ChunkEncoder) -> [UInt8]? {
    var input = raw
    var scratch = [UInt8](repeating: 0, count: max(raw.count, 1))
    var out = [UInt8](repeating: 0, count: ChunkEncoder.outputCapacity(rawBytes: raw.count))
    let cap = out.count
    let n = input.withUnsafeMutableBytes { i in
        scratch.withUnsafeMutableBytes { s in
            out.withUnsafeMutableBytes {
                encoder.encode(raw: i.baseAddress!, count: raw.count, valid: valid, scratch: s.baseAddress!, out: $0.baseAddress!, capacity: cap)
            }
        }
    }
    return n.map { Array(out.prefix($0)) }
}

/// Deterministic pseudo-random bytes.
func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        let r = rng.next()
        for b in 0..<8 where i + b < n { out[i + b] = UInt8(truncatingIfNeeded: r >> (8 * UInt64(b))) }
        i += 8
    }
    return out
}

/// Valid bytes for a dtype (bools 0/1; floats finite), so round trips compare bitwise.
func sampleBytes(_ dtype: DType, count: Int, seed: UInt64) -> [UInt8] {
    var b = randomBytes(count * dtype.size, seed: seed)
    switch dtype {
    case .bool: for i in 0..<b.count { b[i] &= 1 }
    case .float32:
        for i in 0..<count { b[4 * i + 3] &= 0x3f }  // clear the top exponent bit: finite
    case .bfloat16, .float16: for i in 0..<count { b[2 * i + 1] &= 0x3b }
    case .float64: for i in 0..<count { b[8 * i + 7] &= 0x3f }
    default: break
    }
    return b
}

/// Reference hyperslab of a C-order array.
func slice(_ bytes: [UInt8], shape: [Int], esize: Int, _ sel: [DimSelection]) -> [UInt8] {
    var out: [UInt8] = []
    var strides = [Int](repeating: 1, count: shape.count)
    for k in stride(from: shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
    func rec(_ k: Int, _ base: Int) {
        if k == shape.count {
            out.append(contentsOf: bytes[(base * esize)..<((base + 1) * esize)])
            return
        }
        for j in 0..<sel[k].count { rec(k + 1, base + (sel[k].start + j * sel[k].stride) * strides[k]) }
    }
    rec(0, 0)
    return out
}
