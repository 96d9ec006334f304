import CVectorMath

/// The GELU activations of GPT-2 (`gelu_tanh`, the tanh approximation) and BERT/PyTorch
/// default (`gelu`, exact with erf).
enum GELUKernel {
    /// Which formula.
    enum Kind: Sendable {
        /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
        case tanh
        /// 0.5·x·(1 + erf(x/√2)).
        case erf
    }

    /// out[i] = gelu(u[i]).
    static func forward<T: ReferenceScalar>(_ kind: Kind, u: UnsafePointer<T>, out: UnsafeMutablePointer<T>, count: Int) {
        if kind == .tanh, T.self == Float.self {
            forwardTanh(
                u: UnsafeRawPointer(u).assumingMemoryBound(to: Float.self), out: UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), count: count)
            return
        }
        let up = SharedPointer(UnsafeMutablePointer(mutating: u)), op = SharedPointer(out)
        let k0 = T(0.7978845608028654), k1 = T(0.044715), invSqrt2 = T(0.7071067811865476)
        Parallel.forRanges(count, grain: 4096) { r in
            switch kind {
            case .tanh:
                for i in r {
                    let x = up.p[i]
                    op.p[i] = T(0.5) * x * (1 + T.tanh(k0 * (x + k1 * x * x * x)))
                }
            case .erf:
                for i in r {
                    let x = up.p[i]
                    op.p[i] = T(0.5) * x * (1 + T.erf(x * invSqrt2))
                }
            }
        }
    }

    /// grad[i] = grad[i] · gelu′(u[i]) (in place).
    static func backward<T: ReferenceScalar>(_ kind: Kind, u: UnsafePointer<T>, grad: UnsafeMutablePointer<T>, count: Int) {
        if kind == .tanh, T.self == Float.self {
            backwardTanh(
                u: UnsafeRawPointer(u).assumingMemoryBound(to: Float.self), grad: UnsafeMutableRawPointer(grad).assumingMemoryBound(to: Float.self),
                count: count)
            return
        }
        let up = SharedPointer(UnsafeMutablePointer(mutating: u)), gp = SharedPointer(grad)
        let k0 = T(0.7978845608028654), k1 = T(0.044715), invSqrt2 = T(0.7071067811865476)
        let invSqrt2Pi = T(0.3989422804014327)
        Parallel.forRanges(count, grain: 4096) { r in
            switch kind {
            case .tanh:
                for i in r {
                    let x = up.p[i]
                    let t = T.tanh(k0 * (x + k1 * x * x * x))
                    let d = T(0.5) * (1 + t) + T(0.5) * x * (1 - t * t) * k0 * (1 + 3 * k1 * x * x)
                    gp.p[i] *= d
                }
            case .erf:
                for i in r {
                    let x = up.p[i]
                    let d = T(0.5) * (1 + T.erf(x * invSqrt2)) + x * invSqrt2Pi * T.exp(-T(0.5) * x * x)
                    gp.p[i] *= d
                }
            }
        }
    }

    /// fp32 tanh GELU: the CVectorMath kernel (8 lanes, AVX2 + FMA where the CPU has
    /// them) on ranges in parallel.
    static func forwardTanh(u: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
        let up = SharedPointer(UnsafeMutablePointer(mutating: u)), op = SharedPointer(out)
        // Ranges start at multiples of 8 elements; iterations write disjoint ranges.
        Parallel.forRanges((count + 7) / 8, grain: 256) { r in
            let lo = r.lowerBound * 8, hi = min(count, r.upperBound * 8)
            ckpt_vector_kernels_best().pointee.gelu_tanh_forward(up.p + lo, op.p + lo, hi - lo)
        }
    }

    /// fp32 tanh GELU backward, in place: the CVectorMath kernel on ranges in
    /// parallel.
    static func backwardTanh(u: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, count: Int) {
        let up = SharedPointer(UnsafeMutablePointer(mutating: u)), gp = SharedPointer(grad)
        // Iterations write disjoint ranges.
        Parallel.forRanges((count + 7) / 8, grain: 256) { r in
            let lo = r.lowerBound * 8, hi = min(count, r.upperBound * 8)
            ckpt_vector_kernels_best().pointee.gelu_tanh_backward(up.p + lo, gp.p + lo, hi - lo)
        }
    }
}
