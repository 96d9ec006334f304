/// Copies a dense row-major block into a region of a larger dense row-major buffer: the inverse
/// of `StridedCopy` for the resharding read, where a chunk's part of the requested box lands
/// inside the output. Runs contiguous in the output are moved with one `memcpy`.
enum DCPScatter {
    /// Copies the `sizes` block at `src` into the box of shape `outer` at `out`, starting at
    /// index `at` of it. The caller has checked that the block fits (`at + sizes <= outer`).
    static func copy(from src: UnsafeRawPointer, sizes: [Int], into out: UnsafeMutableRawPointer, outer: [Int], at: [Int], elementSize: Int) {
        let rank = sizes.count
        guard sizes.allSatisfy({ $0 > 0 }) else { return }
        if rank == 0 {
            out.copyMemory(from: src, byteCount: elementSize)
            return
        }
        var outStrides = Array(repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { outStrides[d] = outStrides[d + 1] * outer[d + 1] }
        // Inner dimensions taken whole by the block join the run.
        var run = sizes[rank - 1]
        var k = rank - 1
        while k > 0 && sizes[k] == outer[k] && at[k] == 0 {
            run *= sizes[k - 1]
            k -= 1
        }
        let runBytes = run * elementSize
        var base = 0
        for d in 0..<rank { base += at[d] * outStrides[d] }
        if k == 0 {
            (out + base * elementSize).copyMemory(from: src, byteCount: runBytes)
            return
        }
        var index = Array(repeating: 0, count: k)
        var s = src
        while true {
            var e = base
            for d in 0..<k { e += index[d] * outStrides[d] }
            (out + e * elementSize).copyMemory(from: s, byteCount: runBytes)
            s += runBytes
            var d = k - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < sizes[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}
