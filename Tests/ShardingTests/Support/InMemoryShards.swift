import CheckpointStore
import Containers

@testable import Sharding

/// A tensor held in memory as a row-major matrix of Floats, for applying plans without files.
struct Matrix: Equatable {
    var shape: [Int]
    var values: [Float]
    var rows: Int { shape.first ?? 1 }
    var cols: Int { shape.dropFirst().reduce(1, *) }
    subscript(r: Int, c: Int) -> Float { values[r * cols + c] }
}

/// Applies plans to in-memory tensors (the same pieces the streaming converter copies).
enum InMemoryShards {
    /// Element code: which canonical tensor (by index), which row, which column.
    static func code(_ tensor: Int, _ row: Int, _ col: Int) -> Float { Float(tensor * 100_000 + row * 100 + col) }

    /// The wafer tensors of `config`, each element encoding (tensor index, row, column).
    static func encodedWafer(_ config: ModelConfig) -> (files: [ShardFile: [String: Matrix]], index: [String: Int]) {
        var tensors: [String: Matrix] = [:]
        var index: [String: Int] = [:]
        for (k, t) in config.canonicalTensors().enumerated() {
            index[t.name] = k + 1
            let rows = t.shape.first ?? 1, cols = t.shape.dropFirst().reduce(1, *)
            var v = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows { for c in 0..<cols { v[r * cols + c] = code(k + 1, r, c) } }
            tensors[t.name] = Matrix(shape: t.shape, values: v)
        }
        return ([.wafer: tensors], index)
    }

    /// Every index of `box`, row-major.
    static func indices(of box: TensorBox) -> [[Int]] {
        var out: [[Int]] = [box.offsets]
        for d in 0..<box.sizes.count {
            out = out.flatMap { i in
                (0..<box.sizes[d]).map { k in
                    var j = i; j[d] = box.offsets[d] + k; return j
                }
            }
        }
        return box.count == 0 ? [] : out
    }

    /// Row-major position of `index` in a tensor of shape `shape`.
    static func flat(_ index: [Int], _ shape: [Int]) -> Int {
        zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// The source index a piece copies to output index `dest`, as `PlanPiece` defines it: the
    /// trailing (core) dimensions correspond, the last two swapped when transposed.
    static func sourceIndex(_ p: PlanPiece, _ dest: [Int]) -> [Int] {
        let k = min(p.sourceBox.offsets.count, p.destBox.offsets.count)
        var rel = (0..<k).map { j in dest[dest.count - k + j] - p.destBox.offsets[dest.count - k + j] }
        if p.transposed && k >= 2 { rel.swapAt(k - 2, k - 1) }
        var src = p.sourceBox.offsets
        for j in 0..<k { src[src.count - k + j] += rel[j] }
        return src
    }

    /// Builds every output tensor of `plan` from `sources`; unfilled rows stay zero.
    static func apply(_ plan: ReshardPlan, to sources: [ShardFile: [String: Matrix]]) -> [ShardFile: [String: Matrix]] {
        var out: [ShardFile: [String: Matrix]] = [:]
        for f in plan.files {
            for t in f.tensors {
                var m = Matrix(shape: t.target.shape, values: [Float](repeating: 0, count: t.target.shape.reduce(1, *)))
                for p in t.pieces {
                    let s = sources[p.source]![p.sourceTensor]!
                    for dest in indices(of: p.destBox) {
                        m.values[flat(dest, m.shape)] = s.values[flat(sourceIndex(p, dest), s.shape)]
                    }
                }
                out[f.file, default: [:]][t.target.name] = m
            }
        }
        return out
    }
}
