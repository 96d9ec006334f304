import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Writes what ckpt's writers produce into `$CKPT_INTEROP_OUT`, for tools/st_interop_check.py
/// to load with the real safetensors (`safe_open`) and transformers (`from_pretrained`). Runs
/// only when that variable is set (tools/st_interop_check.sh sets it); `swift test` never needs
/// Python.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CKPT_INTEROP_OUT"] != nil, "set CKPT_INTEROP_OUT to export"))
struct HFInteropExportTests {
    typealias F = HFDirectoryFixtures
    var out: String { ProcessInfo.processInfo.environment["CKPT_INTEROP_OUT"] ?? "/nonexistent" }

    /// Small finite values, as float32 or bfloat16 bytes.
    static func values(_ t: ContainerTensor, seed: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(t.byteCount)
        for i in 0..<t.count {
            let v = Float(sin(Double(i) * 0.37 + Double(seed) * 1.3) * 0.05)
            switch t.dtype {
            case .bfloat16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16).littleEndian) { bytes += $0 }
            default: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        return bytes
    }

    static func write(_ w: any TensorContainerWriter, _ manifest: [ContainerTensor], _ bytes: (ContainerTensor, Int) throws -> [UInt8]) throws {
        for (i, t) in manifest.enumerated() {
            let s = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            try bytes(t, i).withUnsafeBytes { try s.append($0) }
            try s.finish()
        }
        try w.commit()
    }

    static func llamaManifest(_ m: ModelConfig, dtype: DType) -> [ContainerTensor] {
        func t(_ n: String, _ s: [Int]) -> ContainerTensor { ContainerTensor(key: .model(n), dtype: dtype, shape: s) }
        let h = m.hidden, kv = m.kvHeads * m.headDim, f = m.ffn
        var out = [t("model.embed_tokens.weight", [m.vocab, h])]
        for i in 0..<m.layers {
            let p = "model.layers.\(i)."
            out += [
                t(p + "input_layernorm.weight", [h]), t(p + "self_attn.q_proj.weight", [h, h]), t(p + "self_attn.k_proj.weight", [kv, h]),
                t(p + "self_attn.v_proj.weight", [kv, h]), t(p + "self_attn.o_proj.weight", [h, h]), t(p + "post_attention_layernorm.weight", [h]),
                t(p + "mlp.gate_proj.weight", [f, h]), t(p + "mlp.up_proj.weight", [f, h]), t(p + "mlp.down_proj.weight", [h, f]),
            ]
        }
        out.append(t("model.norm.weight", [h]))
        if !m.tieEmbeddings { out.append(t("lm_head.weight", [m.vocab, h])) }
        return out
    }

    static func neoxManifest(_ m: ModelConfig, dtype: DType) -> [ContainerTensor] {
        func t(_ n: String, _ s: [Int]) -> ContainerTensor { ContainerTensor(key: .model(n), dtype: dtype, shape: s) }
        let h = m.hidden, f = m.ffn
        var out = [t("gpt_neox.embed_in.weight", [m.vocab, h])]
        for i in 0..<m.layers {
            let p = "gpt_neox.layers.\(i)."
            out += [
                t(p + "input_layernorm.weight", [h]), t(p + "input_layernorm.bias", [h]), t(p + "post_attention_layernorm.weight", [h]),
                t(p + "post_attention_layernorm.bias", [h]), t(p + "attention.query_key_value.weight", [3 * h, h]),
                t(p + "attention.query_key_value.bias", [3 * h]), t(p + "attention.dense.weight", [h, h]), t(p + "attention.dense.bias", [h]),
                t(p + "mlp.dense_h_to_4h.weight", [f, h]), t(p + "mlp.dense_h_to_4h.bias", [f]), t(p + "mlp.dense_4h_to_h.weight", [h, f]),
                t(p + "mlp.dense_4h_to_h.bias", [h]),
            ]
        }
        out += [t("gpt_neox.final_layer_norm.weight", [h]), t("gpt_neox.final_layer_norm.bias", [h])]
        if !m.tieEmbeddings { out.append(t("embed_out.weight", [m.vocab, h])) }
        return out
    }

    @Test func exportFromScratchDirectories() throws {
        let gpt2 = ModelConfig(family: "gpt2", layers: 2, hidden: 16, heads: 4, vocab: 50, maxSeq: 12)
        let gm = F.gpt2Manifest(hidden: 16, vocab: 50, positions: 12)
        try Self.write(try HFDirectoryWriter(path: out + "/scratch-gpt2", model: gpt2, manifest: gm, maxShardBytes: 4000, replace: true), gm) { t, i in
            Self.values(t, seed: i)
        }
        let llama = ModelConfig(family: "llama", layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 40, vocab: 60, maxSeq: 16, ropeTheta: 50000)
        let lm = Self.llamaManifest(llama, dtype: .bfloat16)
        try Self.write(try HFDirectoryWriter(path: out + "/scratch-llama", model: llama, manifest: lm, replace: true), lm) { t, i in
            Self.values(t, seed: i)
        }
        // GPT-NeoX with what the fixture does not have: a tied head, a sequential residual, the tanh GeLU.
        let neox = ModelConfig(
            family: "neox", layers: 2, hidden: 32, heads: 2, ffn: 48, vocab: 40, maxSeq: 16, activation: "gelu_tanh", tieEmbeddings: true,
            ropeTheta: 5000, residual: "sequential", rotaryPct: 0.5)
        let nm = Self.neoxManifest(neox, dtype: .float32)
        try Self.write(try HFDirectoryWriter(path: out + "/scratch-neox", model: neox, manifest: nm, replace: true), nm) { t, i in
            Self.values(t, seed: i)
        }
        let tied = ModelConfig(family: "llama", layers: 1, hidden: 16, heads: 2, ffn: 24, vocab: 30, maxSeq: 8, tieEmbeddings: true, bias: false)
        let tm = Self.llamaManifest(tied, dtype: .float32)
        try Self.write(try HFDirectoryWriter(path: out + "/scratch-llama-tied", model: tied, manifest: tm, maxShardBytes: 1500, replace: true), tm) { t, i in
            Self.values(t, seed: i)
        }
    }

    @Test(arguments: InteropFixtures.hfNames)
    func exportRewrittenFixtures(name: String) throws {
        guard InteropFixtures.hfAvailable else { return }
        let src = try HFCheckpointDirectory(path: InteropFixtures.root + "/" + name)
        let limit = name.hasSuffix("-sharded") ? 6000 : HFDirectoryWriter.defaultMaxShardBytes
        let w = try HFDirectoryWriter(path: out + "/rewrite-" + name, config: try src.config.get(), manifest: src.tensors, maxShardBytes: limit, replace: true)
        try Self.write(w, src.tensors) { t, _ in try src.readAll(t.key) }
    }

    @Test func exportEveryDtype() throws {
        var manifest: [ContainerTensor] = []
        for (i, d) in DType.allCases.enumerated() {
            manifest.append(ContainerTensor(key: .model("t.\(d.rawValue)"), dtype: d, shape: [3, i + 1]))
        }
        manifest.append(ContainerTensor(key: .model("empty"), dtype: .float32, shape: [0, 4]))
        manifest.append(ContainerTensor(key: .model("scalar"), dtype: .int64, shape: []))
        manifest.append(ContainerTensor(key: .model("naïve name \"quoted\""), dtype: .float16, shape: [2]))
        func bytes(_ t: ContainerTensor) -> [UInt8] {
            // Booleans must hold 0 or 1; other types take any bit pattern.
            (0..<t.byteCount).map { t.dtype == .bool ? UInt8($0 % 2) : UInt8(truncatingIfNeeded: $0 &* 37 &+ t.key.name.count) }
        }
        let p = out + "/all-dtypes.safetensors"
        try Self.write(try SafetensorsWriter(path: p, manifest: manifest, metadata: ["format": "pt", "writer": "ckpt"]), manifest) { t, _ in bytes(t) }
        var expected = JSONObject()
        for t in manifest {
            let h = bytes(t).withUnsafeBytes { XXH3.hash($0) }
            let rec = JSONObject([
                ("dtype", .string(SafetensorsDType(t.dtype).rawValue)), ("shape", .array(t.shape.map { .int($0) })),
                ("xxh3_64", .string(String(h, radix: 16))),
            ])
            if let rec { expected.insert(t.key.name, .object(rec)) }
        }
        try TestDirectory.write(Array(JSONText.pretty(.object(expected)).utf8), to: out + "/all-dtypes.expected.json")
    }
}
