import CheckpointStore

@testable import ReferenceCore

/// Float64 finite-difference checks of one part of the model on its own: parameters and
/// inputs in named buffers, a scalar loss L = Σ r ⊙ y of the part's output for a fixed random
/// r, and the part's backward (fed with ∂L/∂y = r) against central differences of L in every
/// element.
final class PartHarness {
    let parameters: TensorBuffers<Double>
    let gradients: TensorBuffers<Double>
    let recycler = PageRecycler()
    let sink: GradientSink<Double>
    var rng: SplitMix

    /// Random parameters for `tensors` (norm weights around 1) and a sink for their gradients.
    init(tensors: [(name: String, shape: [Int])], seed: UInt64) throws {
        var rng = SplitMix(seed)
        let params = TensorBuffers<Double>(tensors: tensors)
        for name in params.names {
            let b = params[name]!
            for i in 0..<b.count { b[i] = (name.hasSuffix("norm.weight") ? 1 : 0) + 0.5 * rng.symmetric() }
        }
        let grads = TensorBuffers<Double>(tensors: tensors)
        let bound = try tensors.map { t in try BoundTensor.bind(t.name, shape: t.shape, from: params, source: "test") }
        sink = try GradientSink(grads, for: bound, recycler: recycler, source: "test")
        self.rng = rng
        parameters = params
        gradients = grads
    }

    deinit { recycler.close() }

    /// A buffer of `count` random values in [-scale, scale).
    func random(_ count: Int, scale: Double = 1) -> ScalarBuffer<Double> {
        let b = ScalarBuffer<Double>(count: count)
        for i in 0..<count { b[i] = scale * rng.symmetric() }
        return b
    }

    /// Σ r ⊙ y (taking the buffer, which stays alive while it is read).
    static func dot(_ r: ScalarBuffer<Double>, _ y: ScalarBuffer<Double>) -> Double {
        var s = 0.0
        for i in 0..<r.count { s += r[i] * y[i] }
        return s
    }

    /// The relative L2 error, for each of `inputs` (name, buffer, analytic gradient) and each
    /// parameter (all, or those named in `only`; analytic gradient from the sink), of the analytic gradient against central
    /// differences of `loss`; also fails when a finite-difference gradient is identically zero
    /// unless the name is in `zeroAllowed` (whose gradient, when zero up to rounding, is then
    /// measured as its largest absolute element).
    func errors(
        inputs: [(String, ScalarBuffer<Double>, [Double])], parameters only: [String]? = nil, zeroAllowed: Set<String> = [],
        h: Double = 1e-5, loss: () -> Double
    ) -> [(name: String, error: Double, allZero: Bool)] {
        var targets = inputs.map { ($0.0, $0.1, $0.2) }
        for name in only ?? parameters.names {
            targets.append((name, parameters[name]!, gradients[name]?.array ?? []))
        }
        var out: [(name: String, error: Double, allZero: Bool)] = []
        for (name, buffer, analytic) in targets {
            var fd = [Double](repeating: 0, count: buffer.count)
            for i in 0..<buffer.count {
                let saved = buffer[i]
                buffer[i] = saved + h
                let up = loss()
                buffer[i] = saved - h
                let down = loss()
                buffer[i] = saved
                fd[i] = (up - down) / (2 * h)
            }
            let a = analytic.isEmpty ? [Double](repeating: 0, count: fd.count) : analytic
            // An allowed-zero gradient that is zero (up to rounding) is compared absolutely.
            let fdZero = fd.allSatisfy { abs($0) < 1e-9 }
            let error = zeroAllowed.contains(name) && fdZero ? (a.map { abs($0) }.max() ?? 0) : TestModels.relativeL2(a, fd)
            out.append((name, error, !zeroAllowed.contains(name) && fd.allSatisfy { $0 == 0 }))
        }
        return out
    }
}
