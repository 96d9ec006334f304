import CheckpointStore
import Testing

@testable import ReferenceCore

/// The norm part on its own: LayerNorm (with and without bias) and RMSNorm against their
/// formulas, with eps from the configuration, and their backward against central differences.
@Suite struct NormLayerTests {
    static let kinds = ["layernorm+bias", "layernorm", "rmsnorm"]

    func setUp(_ kind: String, seed: UInt64) throws -> (PartHarness, NormWeights<Double>, ModelArchitecture.Norm) {
        let bias = kind.hasSuffix("+bias")
        let tensors: [(name: String, shape: [Int])] = [("n.weight", [8])] + (bias ? [("n.bias", [8])] : [])
        let hx = try PartHarness(tensors: tensors, seed: seed)
        let w = try NormWeights.bind("n", columns: 8, bias: bias, from: hx.parameters, source: "test")
        return (hx, w, kind.hasPrefix("rms") ? .rmsNorm : .layerNorm)
    }

    @Test(arguments: kinds)
    func forwardFollowsTheFormulaWithTheConfiguredEps(_ kind: String) throws {
        let (hx, w, norm) = try setUp(kind, seed: 1)
        let rows = 3, c = 8, eps = 0.3
        let layer = NormLayer(kind: norm, eps: eps, rows: rows, columns: c)
        let x = hx.random(rows * c, scale: 0.5)
        let cache = NormLayer.Cache<Double>(layer, recycler: hx.recycler)
        layer.forward(x.pointer, w, into: cache)
        for i in 0..<rows {
            let row = (0..<c).map { x[i * c + $0] }
            let mean = row.reduce(0, +) / Double(c)
            let denom: Double =
                norm == .rmsNorm
                ? (row.map { $0 * $0 }.reduce(0, +) / Double(c) + eps).squareRoot()
                : (row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c) + eps).squareRoot()
            for j in 0..<c {
                let centred = norm == .rmsNorm ? row[j] : row[j] - mean
                let expected = centred / denom * w.weight.pointer[j] + (w.bias?.pointer[j] ?? 0)
                #expect(abs(cache.y[i * c + j] - expected) < 1e-12, "\(kind) row \(i) column \(j)")
            }
        }
    }

    @Test(arguments: kinds)
    func backwardMatchesCentralDifferences(_ kind: String) throws {
        let (hx, w, norm) = try setUp(kind, seed: 2)
        let rows = 5, c = 8
        let layer = NormLayer(kind: norm, eps: 1e-5, rows: rows, columns: c)
        let x = hx.random(rows * c, scale: 2), r = hx.random(rows * c)
        func loss() -> Double {
            let cache = NormLayer.Cache<Double>(layer, recycler: hx.recycler)
            layer.forward(x.pointer, w, into: cache)
            return PartHarness.dot(r, cache.y)
        }
        let cache = NormLayer.Cache<Double>(layer, recycler: hx.recycler)
        layer.forward(x.pointer, w, into: cache)
        let dx = ScalarBuffer<Double>(count: rows * c)
        layer.backward(dy: r.pointer, x: x.pointer, w, cache: cache, dx: dx.pointer, grads: hx.sink)
        for e in hx.errors(inputs: [("x", x, dx.array)], loss: loss) {
            #expect(e.error < 1e-7, "\(kind) \(e.name): relative L2 error \(e.error)")
            #expect(!e.allZero, "\(kind) \(e.name): gradient identically zero")
        }
    }
}
