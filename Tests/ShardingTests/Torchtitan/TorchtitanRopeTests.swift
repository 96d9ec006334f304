import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// torchtitan's ComplexRoPE pairs dimensions (2k, 2k + 1) of each head; the canonical tensors
/// pair (k, k + head_dim / 2). The layout's `rope: interleaved` permutes wq and wk rows per head
/// (as torchtitan's own HF adapter `_permute` does: `w.view(heads, hd / 2, 2, dim)
/// .transpose(1, 2)`), and the Adam moments with them, fused `wqkv` moments included.
@Suite struct TorchtitanRopeTests {
    @Test func interleavedPairsMapToHalves() {
        // Stored rows of one head of 8: (x0, x4), (x1, x5), (x2, x6), (x3, x7).
        let order = RopeOrder.interleaved
        #expect((0..<8).map { order.canonicalRow(ofStoredRow: $0, headDim: 8) } == [0, 4, 1, 5, 2, 6, 3, 7])
        #expect((0..<8).map { order.storedRow(ofCanonicalRow: $0, headDim: 8) } == [0, 2, 4, 6, 1, 3, 5, 7])
        for d in [2, 4, 8, 16, 128] {
            for r in 0..<d {
                #expect(order.storedRow(ofCanonicalRow: order.canonicalRow(ofStoredRow: r, headDim: d), headDim: d) == r)
            }
        }
    }

    @Test func theLayoutCutsWqAndWkIntoPermutedRows() throws {
        let job = try TitanStores.job()
        let map = try LayoutInterpreter().map(job.model, CheckpointLayout(kind: .torchtitan))
        let tensors = Dictionary(uniqueKeysWithValues: map.tensors(in: .wafer).map { ($0.name, $0) })
        let wq = try #require(tensors["layers.1.attention.qkv_linear.wq.weight"])
        #expect(wq.segments.count == 32)
        // Canonical row 5 of head 2 (row 21) is stored row 2 * 8 + 2 * 1 + 1 = 19.
        let s = try #require(wq.segments.first { $0.canonicalBox.offsets[0] == 21 })
        #expect(s.localOffsets == [19, 0] && s.canonicalBox.sizes == [1, 32] && s.canonical == "layers.1.attn.q.weight")
        #expect(tensors["layers.0.attention.qkv_linear.wk.weight"]?.segments.count == 16)
        #expect(tensors["layers.0.attention.qkv_linear.wv.weight"]?.segments.count == 1)
    }

    /// HF row (h, a, k) of q/k is torchtitan row (h, k, a): torchtitan's `_permute`.
    private func permuted(_ titan: [Float], heads: Int, headDim hd: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: titan.count)
        for h in 0..<heads {
            for a in 0..<2 {
                for k in 0..<hd / 2 {
                    let dst = h * hd + a * hd / 2 + k, src = h * hd + 2 * k + a
                    for c in 0..<cols { out[dst * cols + c] = titan[src * cols + c] }
                }
            }
        }
        return out
    }

    @Test func weightsAndFusedMomentsComeOutInHFOrder() throws {
        let shape = TitanStores.Shape()
        let store = TitanStores.store(shape)
        let view = try TitanStores.view(store, job: try TitanStores.job(shape))
        let hd = shape.headDim, hpk = shape.heads / shape.kvHeads, cols = shape.dim
        for i in 0..<shape.layers {
            let p = "layers.\(i).attention.qkv_linear."
            let wq = Encoded.values(try store.readAll(p + "wq.weight")), wk = Encoded.values(try store.readAll(p + "wk.weight"))
            #expect(try TitanStores.floats(view, .model("layers.\(i).attn.q.weight")) == permuted(wq, heads: shape.heads, headDim: hd, cols: cols))
            #expect(try TitanStores.floats(view, .model("layers.\(i).attn.k.weight")) == permuted(wk, heads: shape.kvHeads, headDim: hd, cols: cols))
            #expect(try TitanStores.floats(view, .model("layers.\(i).attn.v.weight")) == Encoded.values(try store.readAll(p + "wv.weight")))
            for state in ["exp_avg", "exp_avg_sq"] {
                // The fused moment: per query group g, rows [q heads of g (hpk x hd), k (hd), v (hd)].
                let fused = Encoded.values(try store.readAll("optimizer.state.\(p)wqkv.weight.\(state)"))
                var q: [Float] = [], k: [Float] = [], v: [Float] = []
                func rows(_ r: Range<Int>) -> ArraySlice<Float> { fused[r.lowerBound * cols..<r.upperBound * cols] }
                for g in 0..<shape.kvHeads {
                    let base: Int = g * (hpk + 2) * hd
                    q += rows(base..<base + hpk * hd)
                    k += rows(base + hpk * hd..<base + hpk * hd + hd)
                    v += rows(base + hpk * hd + hd..<base + hpk * hd + 2 * hd)
                }
                #expect(
                    try TitanStores.floats(view, .optimizer(state, "layers.\(i).attn.q.weight")) == permuted(q, heads: shape.heads, headDim: hd, cols: cols))
                #expect(
                    try TitanStores.floats(view, .optimizer(state, "layers.\(i).attn.k.weight")) == permuted(k, heads: shape.kvHeads, headDim: hd, cols: cols))
                #expect(try TitanStores.floats(view, .optimizer(state, "layers.\(i).attn.v.weight")) == v)
            }
        }
    }

    @Test func unfusedMomentsArePermutedLikeTheirWeights() throws {
        let shape = TitanStores.Shape()
        let store = TitanStores.store(shape, fused: false)
        let view = try TitanStores.view(store, job: try TitanStores.job(shape))
        let m = Encoded.values(try store.readAll("optimizer.state.layers.0.attention.qkv_linear.wk.weight.exp_avg"))
        #expect(
            try TitanStores.floats(view, .optimizer("exp_avg", "layers.0.attn.k.weight"))
                == permuted(m, heads: shape.kvHeads, headDim: shape.headDim, cols: shape.dim))
    }

    @Test func aRopeRuleMustCoverWholeHeads() throws {
        var c = try TitanStores.job().model
        c.rotaryPct = 0.5
        #expect(throws: ShardingError.self) { try LayoutInterpreter().map(c, CheckpointLayout(kind: .torchtitan)) }
    }
}

extension InMemoryDistStore {
    /// The bytes of a whole tensor.
    func readAll(_ fqn: String) throws -> [UInt8] {
        let e = try #require(tensorEntries.first { $0.fqn == fqn })
        var out = [UInt8](repeating: 0, count: e.shape.reduce(1, *) * e.dtype.size)
        try out.withUnsafeMutableBytes { try read(fqn, box: .whole(e.shape), into: $0) }
        return out
    }
}
