/// The parts of one parallel CRC: each iteration of `concurrentPerform` reads its own range of
/// the input and writes its own slot of `values`.
struct CRCParts: @unchecked Sendable {
    let values: UnsafeMutableBufferPointer<UInt32>
    let base: UnsafeRawPointer
    let count: Int
    let size: Int

    func compute(_ i: Int) {
        let start = i * size
        values[i] = CRC32.sequential(0, base + start, min(size, count - start))
    }
}
