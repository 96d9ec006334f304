import CheckpointStore
import Containers
import Testing

@testable import Sharding

/// The Hugging Face tables as the interpreter reads them: names, transposed shapes, fused
/// `c_attn`, unpadded vocabulary, the head present only when untied, every canonical tensor
/// covered exactly once.
@Suite struct HFLayoutTests {
    let interpreter: LayoutInterpreter
    init() throws { interpreter = try LayoutInterpreter() }

    func shapes(_ config: ModelConfig) throws -> [String: [Int]] {
        let map = try interpreter.map(config, .hf)
        #expect(map.files == [.wafer])
        return Dictionary(uniqueKeysWithValues: map.tensors(in: .wafer).filter { !$0.isOptional }.map { ($0.name, $0.shape) })
    }

    @Test(arguments: TinyModels.all.filter { $0.family == "gpt2" || $0.norm == "rmsnorm" })
    func everyCanonicalTensorIsCoveredOnce(_ config: ModelConfig) throws {
        let map = try interpreter.map(config, .hf)
        var elements: [String: Int] = [:]
        // A tied model's head is an optional copy (never written, checked when a source has it).
        let copies = map.allTensors.filter { !$0.isPrimary }
        #expect(copies.map(\.name) == (config.tieEmbeddings ? ["lm_head.weight"] : []))
        #expect(copies.allSatisfy { $0.isOptional && $0.canonicalNames == ["embed.tokens.weight"] })
        for t in map.allTensors where t.isPrimary {
            #expect(t.paddingRows.isEmpty, "\(t.name) has no padding: the HF vocabulary is unpadded")
            for s in t.segments { elements[s.canonical, default: 0] += s.canonicalBox.count }
            #expect(t.shape.reduce(1, *) == t.segments.reduce(0) { $0 + $1.canonicalBox.count }, "\(t.name) is exactly its parts")
        }
        for c in config.canonicalTensors() { #expect(elements[c.name] == c.shape.reduce(1, *), "\(config.family) \(c.name)") }
        #expect(Set(elements.keys) == Set(config.canonicalTensors().map(\.name)))
    }

    @Test func gpt2NamesAndTransposedShapes() throws {
        // C=16, F=32, V=37, S=8, tied.
        let s = try shapes(TinyModels.gpt2)
        #expect(s["transformer.wte.weight"] == [37, 16])
        #expect(s["transformer.wpe.weight"] == [8, 16])
        #expect(s["transformer.h.3.ln_1.weight"] == [16])
        #expect(s["transformer.h.3.attn.c_attn.weight"] == [16, 48], "Conv1D [in, 3 out]")
        #expect(s["transformer.h.3.attn.c_attn.bias"] == [48])
        #expect(s["transformer.h.3.attn.c_proj.weight"] == [16, 16])
        #expect(s["transformer.h.3.mlp.c_fc.weight"] == [16, 32], "[in, out] = transposed up [F, C]")
        #expect(s["transformer.h.3.mlp.c_proj.weight"] == [32, 16], "[in, out] = transposed down [C, F]")
        #expect(s["transformer.ln_f.bias"] == [16])
        #expect(s["lm_head.weight"] == nil, "tied: GPT-2 saves no lm_head")
        #expect(s.count == 2 + 4 * 12 + 2)
        #expect(try shapes(TinyModels.gpt2Untied)["lm_head.weight"] == [37, 16])
        let map = try interpreter.map(TinyModels.gpt2, .hf)
        let cAttn = map.tensors(in: .wafer).first { $0.name == "transformer.h.0.attn.c_attn.weight" }!
        #expect(cAttn.segments.map(\.canonical) == ["layers.0.attn.q.weight", "layers.0.attn.k.weight", "layers.0.attn.v.weight"])
        #expect(cAttn.segments.allSatisfy { $0.transposed })
        #expect(cAttn.segments.map(\.localOffsets) == [[0, 0], [0, 16], [0, 32]], "[Q | K | V] along the output (column) axis")
        #expect(cAttn.segments[1].localBox == TensorBox(offsets: [0, 16], sizes: [16, 16]))
        let bias = map.tensors(in: .wafer).first { $0.name == "transformer.h.0.attn.c_attn.bias" }!
        #expect(!bias.segments.contains { $0.transposed })
        #expect(bias.segments.map(\.localOffsets) == [[0], [16], [32]])
    }

    @Test func llamaNamesAreLinearLayoutWithoutTranspose() throws {
        // C=32, 16 heads of 2 in 8 groups: KV = 16; F=48; untied.
        let s = try shapes(TinyModels.llama)
        #expect(s["model.embed_tokens.weight"] == [37, 32])
        #expect(s["model.layers.2.self_attn.q_proj.weight"] == [32, 32])
        #expect(s["model.layers.2.self_attn.k_proj.weight"] == [16, 32])
        #expect(s["model.layers.2.self_attn.v_proj.weight"] == [16, 32])
        #expect(s["model.layers.2.self_attn.o_proj.weight"] == [32, 32])
        #expect(s["model.layers.2.mlp.gate_proj.weight"] == [48, 32])
        #expect(s["model.layers.2.mlp.down_proj.weight"] == [32, 48])
        #expect(s["model.norm.weight"] == [32])
        #expect(s["lm_head.weight"] == [37, 32])
        #expect(s.count == 1 + 4 * 9 + 2)
        #expect(try interpreter.map(TinyModels.llama, .hf).allTensors.allSatisfy { t in !t.segments.contains { $0.transposed } })
        // Biases (attention_bias / mlp_bias) map one to one.
        let b = try shapes(TinyModels.llamaBias)
        #expect(b["model.layers.0.mlp.gate_proj.bias"] == [48])
        #expect(b["model.layers.0.self_attn.k_proj.bias"] == [16])
        // Tied embeddings: no lm_head.
        var tied = TinyModels.llama
        tied.tieEmbeddings = true
        #expect(try shapes(tied)["lm_head.weight"] == nil)
    }

    @Test func normBiasesHaveNoHuggingFaceLlamaName() throws {
        // LlamaRMSNorm has no bias: a llama model with LayerNorm biases cannot be written as HF.
        #expect(throws: ShardingError.self) { try interpreter.map(TinyModels.llamaLayerNormBias, .hf) }
    }

    @Test func layoutKindsAreData() throws {
        #expect(LayoutKind.named("hf") == .hf && LayoutKind.named("megatron") == .megatron && LayoutKind.named("dcp") == nil)
        #expect(CheckpointLayout.hf.files == [.wafer] && CheckpointLayout.hf.shape == nil)
        #expect(CheckpointLayout.megatron(MegatronShape(tp: 2, pp: 3)).files.count == 6)
        #expect(CheckpointLayout.hf.layoutJSON(for: .wafer, config: TinyModels.gpt2) == #"{"kind":"hf"}"#)
        #expect(!LayoutKind.hf.holdsOptimizerState && LayoutKind.megatron.holdsOptimizerState)
        // A new kind needs no code: a one-file layout over the megatron table (TP = PP = 1).
        let flat = LayoutKind(name: "megatron-flat", table: "megatron", isSharded: false, holdsOptimizerState: true, title: "flat")
        let map = try interpreter.map(TinyModels.gpt2, CheckpointLayout(kind: flat))
        #expect(map.tensors(in: .wafer).first { $0.name == "embedding.word_embeddings.weight" }?.shape == [37, 16], "no vocabulary padding")
        #expect(throws: ShardingError.noTargetFormat(layout: "hf", container: "ckpt", known: ["wafer/ckpt", "megatron/ckpt"])) {
            _ = try FormatRegistry.standard.target(.hf, container: "ckpt")
        }
    }
}
