import Foundation
import Testing

@testable import CheckpointStore

/// `model_config.rope_scaling`: validation, JSON, and the inverse frequencies against the values
/// transformers 5.24 and megatron-core 0.16.1 compute (Tests/Fixtures/interop/rope-scaling,
/// tools/make_rope_fixtures.py).
@Suite struct RopeScalingTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/interop/rope-scaling/expected.json").path

    static let llama31 = RopeScaling.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192)

    static func llama(_ scaling: RopeScaling?, position: String = "rope") -> ModelConfig {
        ModelConfig(
            family: "llama", layers: 1, hidden: 64, heads: 4, vocab: 10, maxSeq: 131072, position: position, ropeTheta: 500000, ropeScaling: scaling)
    }

    @Test(arguments: [
        (RopeScaling(type: "yarn", factor: 4), "rope_scaling.type 'yarn' is not a scaling ckpt computes (llama3 or linear)"),
        (
            RopeScaling(type: "llama3", factor: nil, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 8192),
            "rope_scaling.factor: missing (type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_seq)"
        ),
        (
            RopeScaling(type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4),
            "rope_scaling.original_max_seq: missing (type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_seq)"
        ),
        (
            RopeScaling(type: "llama3", factor: 8, highFreqFactor: 4, originalMaxSeq: 8192),
            "rope_scaling.low_freq_factor: missing (type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_seq)"
        ),
        (RopeScaling(type: "linear", factor: nil), "rope_scaling.factor: missing (type linear needs factor)"),
        (
            RopeScaling(type: "linear", factor: 2, originalMaxSeq: 4096),
            "rope_scaling.original_max_seq is not a parameter of type linear (it takes factor only)"
        ),
        (RopeScaling.linear(factor: 0), "rope_scaling.factor must be a positive number (got 0.0)"),
        (RopeScaling.linear(factor: .infinity), "rope_scaling.factor must be a positive number (got inf)"),
        (
            RopeScaling.llama3(factor: 8, lowFreqFactor: 4, highFreqFactor: 4, originalMaxSeq: 8192),
            "rope_scaling.high_freq_factor must be a number above low_freq_factor 4.0 (got 4.0)"
        ),
        (
            RopeScaling.llama3(factor: 8, lowFreqFactor: -1, highFreqFactor: 4, originalMaxSeq: 8192),
            "rope_scaling.low_freq_factor must be a positive number (got -1.0)"
        ),
        (
            RopeScaling.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxSeq: 0),
            "rope_scaling.original_max_seq must be positive (got 0)"
        ),
    ])
    func invalidScalingsAreNamed(scaling: RopeScaling, message: String) {
        #expect(scaling.validationProblem() == message)
        #expect(Self.llama(scaling).validationProblem() == message)
    }

    @Test func validScalingsPassAndNeedRotaryPositions() {
        #expect(Self.llama31.validationProblem() == nil)
        #expect(RopeScaling.linear(factor: 2).validationProblem() == nil)
        #expect(Self.llama(Self.llama31).validationProblem() == nil)
        #expect(Self.llama(nil).validationProblem() == nil)
        #expect(Self.llama(.linear(factor: 2), position: "learned").validationProblem() == "rope_scaling linear needs position rope (got learned)")
    }

    @Test func jsonCarriesTheScalingAndOlderFilesReadAsNone() throws {
        let scaled = Self.llama(Self.llama31)
        let text = MetadataJSON.encode(scaled)
        #expect(
            text.contains(#""rope_scaling":{"factor":8,"high_freq_factor":4,"low_freq_factor":1,"original_max_seq":8192,"type":"llama3"}"#),
            "\(text)")
        #expect(try MetadataJSON.decode(ModelConfig.self, text, path: "m.h5", what: "model_config") == scaled)
        let plain = MetadataJSON.encode(Self.llama(nil))
        #expect(!plain.contains("rope_scaling"))
        // A file written before rope_scaling existed, and one with an explicit null.
        let old = #"{"family":"llama","layers":1,"hidden":64,"heads":4,"vocab":10,"max_seq":16,"rope_theta":500000}"#
        #expect(try MetadataJSON.decode(ModelConfig.self, old, path: "m.h5", what: "model_config").ropeScaling == nil)
        let null = #"{"family":"llama","layers":1,"hidden":64,"heads":4,"vocab":10,"max_seq":16,"rope_scaling":null}"#
        #expect(try MetadataJSON.decode(ModelConfig.self, null, path: "m.h5", what: "model_config").ropeScaling == nil)
        // An unknown type still decodes (so info and verify can name it) and fails validation.
        let yarn = #"{"family":"llama","layers":1,"hidden":64,"heads":4,"vocab":10,"max_seq":16,"rope_scaling":{"type":"yarn","factor":4}}"#
        let decoded = try MetadataJSON.decode(ModelConfig.self, yarn, path: "m.h5", what: "model_config")
        #expect(decoded.validationProblem() == "rope_scaling.type 'yarn' is not a scaling ckpt computes (llama3 or linear)")
    }

    // MARK: - Inverse frequencies

    struct Case: Sendable, CustomStringConvertible {
        var name: String, headDim: Int, rotaryPct: Double, theta: Double, scaling: RopeScaling?
        var transformers: [Double], megatronCore: [Double]?
        var description: String { name }
    }

    /// The fixture's `inv_freq` cases, with the scaling mapped from their transformers
    /// `rope_parameters`.
    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let all = try #require(doc["inv_freq"] as? [String: [String: Any]])
        return try all.keys.sorted().map { name in
            let c = all[name]!
            let rope = try #require(c["rope_parameters"] as? [String: Any])
            let type = try #require(rope["rope_type"] as? String)
            let factor = rope["factor"] as? Double
            let scaling: RopeScaling? =
                switch type {
                case "llama3":
                    .llama3(
                        factor: factor!, lowFreqFactor: rope["low_freq_factor"] as! Double, highFreqFactor: rope["high_freq_factor"] as! Double,
                        originalMaxSeq: rope["original_max_position_embeddings"] as! Int)
                case "linear": .linear(factor: factor!)
                default: nil
                }
            return Case(
                name: name, headDim: c["head_dim"] as! Int, rotaryPct: c["rotary_pct"] as! Double, theta: c["rope_theta"] as! Double,
                scaling: scaling, transformers: c["inv_freq"] as! [Double], megatronCore: c["megatron_core_inv_freq"] as? [Double])
        }
    }

    /// transformers computes in float32 (`base ** (arange / dim)`, a pow with ~1 ulp error, then
    /// the llama3 arithmetic), ckpt in Float64: they agree to a few float32 ulps. Any wrong band,
    /// factor or smoothing term is off by far more (the smallest factor in the cases is 2).
    static let tolerance = 1e-6

    @Test func inverseFrequenciesMatchTransformersAndMegatronCore() throws {
        let cases = try Self.cases()
        #expect(cases.count == 7)
        #expect(cases.filter { $0.megatronCore != nil }.count == 3)
        for c in cases {
            let config = ModelConfig(
                family: c.rotaryPct == 1 ? "llama" : "neox", layers: 1, hidden: 4 * c.headDim, heads: 4, vocab: 16, maxSeq: 131072,
                ropeTheta: c.theta, rotaryPct: c.rotaryPct, ropeScaling: c.scaling)
            #expect(config.validationProblem() == nil, "\(c)")
            let f = config.ropeInverseFrequencies()
            #expect(f.count == c.transformers.count, "\(c): \(f.count) frequencies")
            var worst = 0.0
            for (mine, theirs) in zip(f, c.transformers) { worst = max(worst, abs(mine - theirs) / theirs) }
            #expect(worst < Self.tolerance, "\(c): worst relative difference \(worst)")
            if let m = c.megatronCore { #expect(m == c.transformers, "\(c): megatron-core and transformers differ") }
        }
    }

    /// Each llama3 case in the fixture exercises the bands it claims to: the test above would
    /// not notice a band rule that is never reached.
    @Test func theLlama3CasesCoverEveryBand() throws {
        for c in try Self.cases() where c.scaling?.type == "llama3" {
            let plain = ModelConfig.ropeInverseFrequencies(dimensions: c.headDim, theta: c.theta, scaling: nil)
            let ratios = zip(plain, c.transformers).map { $0 / $1 }
            let factor = c.scaling!.factor!
            #expect(ratios.contains { abs($0 - 1) < 1e-6 }, "\(c): no kept frequency")
            #expect(ratios.contains { abs($0 - factor) < 1e-5 }, "\(c): no fully scaled frequency")
            #expect(ratios.contains { $0 > 1.01 && $0 < factor * 0.99 }, "\(c): no interpolated frequency")
        }
    }

    @Test func linearScalingDividesEveryFrequency() {
        let plain = ModelConfig.ropeInverseFrequencies(dimensions: 8, theta: 10000, scaling: nil)
        #expect(plain.count == 4 && zip(plain, [1, 0.1, 0.01, 0.001]).allSatisfy { abs($0 - $1) < 1e-15 })
        let scaled = ModelConfig.ropeInverseFrequencies(dimensions: 8, theta: 10000, scaling: .linear(factor: 4))
        #expect(zip(plain, scaled).allSatisfy { $0 / 4 == $1 })
        #expect(ModelConfig(family: "gpt2", layers: 1, hidden: 8, heads: 2, vocab: 5, maxSeq: 3).ropeInverseFrequencies().isEmpty)
    }
}
