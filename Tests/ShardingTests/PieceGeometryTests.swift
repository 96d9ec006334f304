import CheckpointStore
import Containers
import Testing

@testable import Sharding

/// Plan pieces are N-d boxes with an optional transpose: boxes of different ranks (one layer
/// of a stacked `[layers, rows, cols]` tensor against a 2-D tensor), restricted to any rows or
/// sub-box, keep every element where `PlanPiece` says it goes; `BoxCopy` moves them there.
@Suite struct PieceGeometryTests {
    /// A stacked source [3, 6, 5] whose layer 1, rows 2..<6, columns 1..<4 fill a [4, 3] box at
    /// (1, 2) of a [7, 9] output — or, transposed, a [3, 4] box.
    static let pieces: [PlanPiece] = [
        PlanPiece(
            source: .wafer, sourceTensor: "s", sourceBox: TensorBox(offsets: [1, 2, 1], sizes: [1, 4, 3]),
            destBox: TensorBox(offsets: [1, 2], sizes: [4, 3])),
        PlanPiece(
            source: .wafer, sourceTensor: "s", sourceBox: TensorBox(offsets: [1, 2, 1], sizes: [1, 4, 3]),
            destBox: TensorBox(offsets: [1, 2], sizes: [3, 4]), transposed: true),
        // And the other way round: a 2-D source into one layer of a stacked output.
        PlanPiece(
            source: .wafer, sourceTensor: "s", sourceBox: TensorBox(offsets: [2, 0], sizes: [3, 4]),
            destBox: TensorBox(offsets: [2, 1, 3], sizes: [1, 4, 3]), transposed: true),
    ]

    static func array(_ shape: [Int]) -> [UInt32] { (0..<shape.reduce(1, *)).map { UInt32($0 + 1) } }

    /// The output built element by element from `PlanPiece`'s definition.
    static func expected(_ p: PlanPiece, sourceShape: [Int], destShape: [Int]) -> [UInt32] {
        let src = array(sourceShape)
        var out = [UInt32](repeating: 0, count: destShape.reduce(1, *))
        for i in InMemoryShards.indices(of: p.destBox) {
            out[InMemoryShards.flat(i, destShape)] = src[InMemoryShards.flat(InMemoryShards.sourceIndex(p, i), sourceShape)]
        }
        return out
    }

    static func copied(_ p: PlanPiece, sourceShape: [Int], destShape: [Int]) -> [UInt32] {
        let src = array(sourceShape)
        var out = [UInt32](repeating: 0, count: destShape.reduce(1, *))
        src.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { d in
                BoxCopy.copy(
                    from: s.baseAddress!, shape: sourceShape, box: p.sourceBox, to: d.baseAddress!, shape: destShape, box: p.destBox,
                    transposed: p.transposed, elementSize: 4)
            }
        }
        return out
    }

    static func shapes(_ p: PlanPiece) -> ([Int], [Int]) {
        p.sourceBox.offsets.count == 3 ? ([3, 6, 5], [7, 9]) : ([6, 5], [3, 7, 9])
    }

    @Test(arguments: 0..<3)
    func boxCopyPlacesEveryElementAsDefined(_ k: Int) {
        let p = Self.pieces[k]
        let (s, d) = Self.shapes(p)
        let e = Self.expected(p, sourceShape: s, destShape: d)
        #expect(e.filter { $0 != 0 }.count == 12)
        #expect(Self.copied(p, sourceShape: s, destShape: d) == e)
    }

    @Test(arguments: 0..<3)
    func restrictionsKeepTheMapping(_ k: Int) {
        let p = Self.pieces[k]
        let (s, d) = Self.shapes(p)
        let whole = Self.expected(p, sourceShape: s, destShape: d)
        // Any split into row blocks of the output, or of the source, rebuilds the same output.
        for step in 1...4 {
            var byDest = [UInt32](repeating: 0, count: whole.count), bySource = byDest
            for r in stride(from: 0, to: 8, by: step) {
                if let q = p.restricted(destRows: r..<r + step) {
                    for (i, v) in Self.expected(q, sourceShape: s, destShape: d).enumerated() where v != 0 { byDest[i] = v }
                }
                if let q = p.restricted(sourceRows: r..<r + step) {
                    for (i, v) in Self.expected(q, sourceShape: s, destShape: d).enumerated() where v != 0 { bySource[i] = v }
                }
            }
            #expect(byDest == whole, "dest rows by \(step)")
            #expect(bySource == whole, "source rows by \(step)")
        }
        // A sub-box of the output: exactly the elements inside it.
        let box = TensorBox(offsets: d.count == 2 ? [2, 3] : [0, 2, 3], sizes: d.count == 2 ? [2, 2] : [3, 2, 2])
        let q = p.restricted(toDest: box)!
        let part = Self.expected(q, sourceShape: s, destShape: d)
        for i in InMemoryShards.indices(of: .whole(d)) {
            let f = InMemoryShards.flat(i, d)
            let inside = zip(i, zip(box.offsets, box.sizes)).allSatisfy { $0 >= $1.0 && $0 < $1.0 + $1.1 }
            #expect(part[f] == (inside ? whole[f] : 0))
        }
        #expect(Self.copied(q, sourceShape: s, destShape: d) == part)
    }

    @Test func transposeCopiesEveryElementSize() {
        // 70 x 45 crosses the 32 x 32 tiles in both directions.
        for es in [1, 2, 4, 8, 3] {
            let rows = 70, cols = 45
            let src = (0..<rows * cols * es).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
            var out = [UInt8](repeating: 0, count: src.count)
            src.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { d in
                    BoxCopy.copy(
                        from: s.baseAddress!, shape: [rows, cols], box: .whole([rows, cols]), to: d.baseAddress!, shape: [cols, rows],
                        box: .whole([cols, rows]), transposed: true, elementSize: es)
                }
            }
            var ok = true
            for r in 0..<rows {
                for c in 0..<cols where Array(out[(c * rows + r) * es..<(c * rows + r + 1) * es]) != Array(src[(r * cols + c) * es..<(r * cols + c + 1) * es]) {
                    ok = false
                }
            }
            #expect(ok, "element size \(es)")
        }
    }
}
