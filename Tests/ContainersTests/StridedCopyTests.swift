import Testing

@testable import Containers

@Suite struct StridedCopyTests {
    /// Reference: element-by-element gather.
    func gather(_ src: [Int32], offset: Int, strides: [Int], box: TensorBox) -> [Int32] {
        var out: [Int32] = []
        func walk(_ d: Int, _ e: Int) {
            if d == box.sizes.count { out.append(src[e]); return }
            for i in 0..<box.sizes[d] { walk(d + 1, e + (box.offsets[d] + i) * strides[d]) }
        }
        walk(0, offset)
        return out
    }

    func copied(_ src: [Int32], offset: Int, shape: [Int], strides: [Int], box: TensorBox) -> [Int32] {
        var out = [Int32](repeating: -1, count: box.count)
        src.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                StridedCopy.copy(from: s.baseAddress!, elementSize: 4, offset: offset, shape: shape, strides: strides, box: box, into: o.baseAddress!)
            }
        }
        return out
    }

    @Test(arguments: [
        (shape: [4, 5, 6], box: TensorBox(offsets: [0, 0, 0], sizes: [4, 5, 6])),
        (shape: [4, 5, 6], box: TensorBox(offsets: [1, 0, 0], sizes: [2, 5, 6])),
        (shape: [4, 5, 6], box: TensorBox(offsets: [1, 2, 0], sizes: [2, 3, 6])),
        (shape: [4, 5, 6], box: TensorBox(offsets: [0, 1, 2], sizes: [4, 3, 3])),
        (shape: [4, 5, 6], box: TensorBox(offsets: [3, 4, 5], sizes: [1, 1, 1])),
        (shape: [7], box: TensorBox(offsets: [2], sizes: [4])),
    ])
    func contiguousSourcesMatchElementGather(shape: [Int], box: TensorBox) {
        let n = shape.reduce(1, *) + 3
        let src = (0..<n).map { Int32($0) }
        var strides = Array(repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        #expect(copied(src, offset: 3, shape: shape, strides: strides, box: box) == gather(src, offset: 3, strides: strides, box: box))
    }

    @Test func transposedSourceMatchesElementGather() {
        // A [5, 4] view of a row-major [4, 5] array (strides 1, 5).
        let src = (0..<20).map { Int32($0) }
        let box = TensorBox(offsets: [1, 1], sizes: [3, 2])
        #expect(copied(src, offset: 0, shape: [5, 4], strides: [1, 5], box: box) == gather(src, offset: 0, strides: [1, 5], box: box))
    }

    @Test func scalarCopiesOneElement() {
        let src: [Int32] = [9, 8, 7]
        #expect(copied(src, offset: 2, shape: [], strides: [], box: .whole([])) == [7])
    }
}
