import Foundation

extension ModelConfig {
    /// The number of dimensions of each head that rotary embedding rotates:
    /// `Int(headDim x rotaryPct)`, as transformers' `int(head_dim * partial_rotary_factor)` and
    /// megatron-core's `int(kv_channels * rotary_percent)`; 0 without rotary positions.
    public var rotaryDimensions: Int { position == "rope" ? Int(Double(headDim) * rotaryPct) : 0 }

    /// The rotary inverse frequencies of this model, one per rotated pair of dimensions
    /// (`rotaryDimensions / 2` values), in Float64; empty without rotary positions. See
    /// `ropeInverseFrequencies(dimensions:theta:scaling:)`.
    public func ropeInverseFrequencies() -> [Double] {
        Self.ropeInverseFrequencies(dimensions: rotaryDimensions, theta: ropeTheta, scaling: ropeScaling)
    }

    /// The rotary inverse frequencies for `dimensions` rotated dimensions (even), base `theta`
    /// and `scaling`, in Float64. Position p rotates pair i by `p x f[i]`.
    ///
    /// `f[i] = 1 / theta^(2i / dimensions)` for i in 0..<dimensions/2 (transformers'
    /// `_compute_default_rope_parameters`), then, as transformers 5.24's
    /// `_compute_llama3_parameters` and `_compute_linear_scaling_rope_parameters` do (in the same
    /// order of operations, but in Float64 where they use float32):
    /// - `linear`: `f[i] / factor`;
    /// - `llama3`: with wavelength `w = 2π / f[i]`, `f[i] / factor` when `w > original_max_seq /
    ///   low_freq_factor`, `f[i]` when `w < original_max_seq / high_freq_factor`, and between
    ///   them `(1 - s) x f[i] / factor + s x f[i]` with `s = (original_max_seq / w -
    ///   low_freq_factor) / (high_freq_factor - low_freq_factor)`.
    ///
    /// A scaling that fails `RopeScaling.validationProblem()` (a missing parameter, an unknown
    /// type) is not applied: validate the config first.
    public static func ropeInverseFrequencies(dimensions: Int, theta: Double, scaling: RopeScaling?) -> [Double] {
        guard dimensions >= 2 else { return [] }
        let d = Double(dimensions)
        var f = stride(from: 0, to: dimensions, by: 2).map { 1.0 / pow(theta, Double($0) / d) }
        guard let scaling, scaling.validationProblem() == nil, let factor = scaling.factor else { return f }
        switch scaling.type {
        case "linear":
            for i in f.indices { f[i] /= factor }
        case "llama3":
            guard let low = scaling.lowFreqFactor, let high = scaling.highFreqFactor, let original = scaling.originalMaxSeq else { return f }
            let old = Double(original)
            let lowWavelength = old / low
            let highWavelength = old / high
            for i in f.indices {
                let wavelength = 2 * Double.pi / f[i]
                let kept = wavelength > lowWavelength ? f[i] / factor : f[i]
                if !(wavelength < highWavelength) && !(wavelength > lowWavelength) {
                    let s = (old / wavelength - low) / (high - low)
                    f[i] = (1 - s) * kept / factor + s * kept
                } else {
                    f[i] = kept
                }
            }
        default:
            break
        }
        return f
    }
}
