import CheckpointStore
import Testing

@testable import ReferenceCore

/// Which configurations the core computes, and the errors for those it refuses: each names the
/// field or tensor.
@Suite struct ModelArchitectureTests {
    @Test func partsAreReadFromTheirSwitches() throws {
        let llama = try ModelArchitecture(config: ModelConfig.preset(family: "llama", name: "tiny")!)
        #expect(llama.norm == .rmsNorm && llama.mlp == .swiglu && llama.residual == .sequential && !llama.tiedHead && !llama.bias)
        #expect(llama.positions == .rotary(dimensions: 16, theta: 10000, scaling: nil) && llama.kvHeads == 2 && llama.heads == 4)
        let neox = try ModelArchitecture(config: ModelConfig.preset(family: "neox", name: "tiny")!)
        #expect(neox.norm == .layerNorm && neox.normHasBias && neox.mlp == .geluErf && neox.residual == .parallel && !neox.tiedHead)
        #expect(neox.positions == .rotary(dimensions: 4, theta: 10000, scaling: nil))
        let gpt2 = try ModelArchitecture(config: ModelConfig.preset(family: "gpt2", name: "tiny")!)
        #expect(gpt2.positions == .learned && gpt2.mlp == .geluTanh && gpt2.tiedHead && gpt2.normHasBias)
    }

    @Test func contradictoryOrUnknownSwitchesAreErrorsNamingTheField() {
        func problem(_ edit: (inout ModelConfig) -> Void) -> String {
            var c = ComposedModels.config()
            edit(&c)
            do {
                _ = try ModelArchitecture(config: c, path: "a.h5")
                return "accepted"
            } catch { return error.description }
        }
        #expect(problem { $0.norm = "batchnorm" }.contains("unknown norm 'batchnorm'"))
        #expect(problem { $0.residual = "interleaved" }.contains("residual 'interleaved'"))
        #expect(problem { $0.activation = "relu" }.contains("activation 'relu'"))
        #expect(problem { $0.position = "alibi" }.contains("position 'alibi'"))
        #expect(problem { $0.rotaryPct = 0.25 }.contains("rotary_pct 0.25 with position 'learned'"))
        #expect(
            problem {
                $0.position = "rope"; $0.rotaryPct = 0.25
            }.contains("rotary dimensions"))
        #expect(
            problem {
                $0.position = "rope"; $0.ropeTheta = 0
            }.contains("rope_theta"))
        #expect(problem { $0.normEps = -1 }.contains("norm_eps"))
        #expect(problem { $0.kvHeads = 3 }.contains("kv_heads (3) must divide heads (2)"))
        #expect(problem { _ in }.contains("accepted"))
        #expect(problem { $0.norm = "batchnorm" }.hasPrefix("a.h5: model not supported by the reference core"))
    }

    @Test func parametersAreBoundByNameAndShape() throws {
        let config = ComposedModels.llama
        let model = try ReferenceModel(config: config)
        let batch = TestModels.batch(config, b: 1, t: 3, seed: 1)
        func run(_ tensors: [(name: String, shape: [Int])]) -> ReferenceError? {
            let p = TensorBuffers<Float>(tensors: tensors)
            do {
                _ = try model.loss(parameters: p, batch: batch)
                return nil
            } catch { return error }
        }
        let all = config.canonicalTensors()
        #expect(run(all) == nil)
        #expect(run(all.filter { $0.name != "layers.1.mlp.gate.weight" }) == .missingTensor(path: "parameters", tensor: "layers.1.mlp.gate.weight"))
        var misshapen = all
        misshapen[misshapen.firstIndex { $0.name == "layers.0.attn.k.weight" }!].shape = [8, 8]
        #expect(run(misshapen) == .shapeMismatch(path: "parameters", tensor: "layers.0.attn.k.weight", expected: [4, 8], found: [8, 8]))
        let extra = all + [("embed.positions.weight", [6, 8])]
        #expect(run(extra) == .unsupportedModel(path: "parameters", detail: "tensor embed.positions.weight is not read by the model model_config describes"))
    }

    @Test func zeroGradientElementsFollowThePositions() throws {
        let gpt2 = try ModelArchitecture(config: ComposedModels.config())
        #expect(gpt2.zeroGradientRanges("layers.1.attn.k.bias") == [0..<8])
        #expect(gpt2.zeroGradientRanges("layers.1.attn.q.bias").isEmpty && gpt2.zeroGradientRanges("layers.1.attn.k.weight").isEmpty)
        // NeoX, half of each head of 4 rotated: dimensions 2, 3 of each of the 2 KV heads.
        let neox = try ModelArchitecture(config: ComposedModels.neox)
        #expect(neox.zeroGradientRanges("layers.0.attn.k.bias") == [2..<4, 6..<8])
        let pythia = try ModelArchitecture(config: ModelConfig.preset(family: "neox", name: "160m")!)
        #expect(pythia.zeroGradientRanges("layers.0.attn.k.bias").count == 12)
        #expect(pythia.zeroGradientRanges("layers.0.attn.k.bias").first == 16..<64)
        // Full rotary: every element of the k bias carries a gradient; no biases, no tensor.
        let rotated = try ModelArchitecture(config: ComposedModels.config(position: "rope"))
        #expect(rotated.zeroGradientRanges("layers.0.attn.k.bias").isEmpty)
        #expect(try ModelArchitecture(config: ComposedModels.llama).zeroGradientRanges("layers.0.attn.k.bias").isEmpty)
    }

    @Test func verifierSegmentsCoverEveryRowOnce() {
        let s = StepVerifier.segments(rows: 8, rowElements: 1, zero: [6..<8, 2..<4])
        #expect(s.map(\.rows) == [0..<2, 2..<4, 4..<6, 6..<8])
        #expect(s.map(\.noise) == [false, true, false, true])
        #expect(StepVerifier.segments(rows: 5, rowElements: 1, zero: [0..<5]).map(\.noise) == [true])
        #expect(StepVerifier.segments(rows: 3, rowElements: 4, zero: []).map(\.rows) == [0..<3])
    }
}
