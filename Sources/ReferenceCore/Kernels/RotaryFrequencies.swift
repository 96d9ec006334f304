import CheckpointStore
import Foundation

/// The rotary inverse frequencies as transformers 5.24 computes them in float32, for the
/// Float reference core (the Double core uses `ModelConfig.ropeInverseFrequencies`, the same
/// formulas in Float64).
///
/// Each operation is the float32 operation PyTorch performs, in the same order, so the tables
/// are those of `LlamaRotaryEmbedding.inv_freq` bit for bit:
/// - `_compute_default_rope_parameters`: `1 / theta^(2j/d)` (`base ** (arange(0, d, 2) / d)`);
/// - linear: `inv_freq /= factor`;
/// - llama3 (`_compute_llama3_parameters`): `wavelen = 2π / inv_freq`, which PyTorch evaluates
///   as `reciprocal(inv_freq) · 2π` (`Tensor.__rdiv__`), likewise `old / wavelen`; frequencies
///   with `wavelen > old / low` divided by `factor`, those not below `old / high` and not above
///   `old / low` replaced by `(1 − s)·f/factor + s·f` with `s = (old/wavelen − low)/(high − low)`.
///   Python scalars enter each float32 operation rounded to float32.
enum RotaryFrequencies {
    /// `dimensions / 2` float32 frequencies; unscaled when `scaling` is nil or fails
    /// `RopeScaling.validationProblem()` (`ModelArchitecture` refuses such a config first).
    static func float32(dimensions: Int, theta: Double, scaling: RopeScaling?) -> [Float] {
        guard dimensions >= 2 else { return [] }
        var f = stride(from: 0, to: dimensions, by: 2).map { j in
            Float(1) / Foundation.pow(Float(theta), Float(j) / Float(dimensions))
        }
        guard let scaling, scaling.validationProblem() == nil, let factor = scaling.factor.map(Float.init) else { return f }
        switch scaling.type {
        case "linear":
            for i in f.indices { f[i] /= factor }
        case "llama3":
            guard let low = scaling.lowFreqFactor, let high = scaling.highFreqFactor, let original = scaling.originalMaxSeq else { return f }
            let old = Double(original)
            // Python floats: the thresholds and the denominator are computed in Float64, then
            // rounded where they meet a float32 tensor.
            let lowWavelength = Float(old / low), highWavelength = Float(old / high)
            let twoPi = Float(2 * Double.pi), oldF = Float(old), lowF = Float(low), span = Float(high - low)
            for i in f.indices {
                let wavelength = (1 / f[i]) * twoPi
                let kept = wavelength > lowWavelength ? f[i] / factor : f[i]
                let s = ((1 / wavelength) * oldF - lowF) / span
                let smoothed = (1 - s) * kept / factor + s * kept
                let medium = !(wavelength < highWavelength) && !(wavelength > lowWavelength)
                f[i] = medium ? smoothed : kept
            }
        default:
            break
        }
        return f
    }
}
