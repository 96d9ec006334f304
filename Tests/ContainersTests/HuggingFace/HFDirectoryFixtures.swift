import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Small Hugging Face directories built by the tests, tensor bytes derived from names.
enum HFDirectoryFixtures {
    /// Deterministic bytes for a tensor.
    static func bytes(_ t: ContainerTensor) -> [UInt8] {
        var h: UInt64 = 1469598103934665603
        for c in t.key.name.utf8 { h = (h ^ UInt64(c)) &* 1099511628211 }
        return (0..<t.byteCount).map { UInt8(truncatingIfNeeded: (h >> UInt64($0 % 7 * 8)) &+ UInt64($0)) }
    }

    /// Writes every tensor of `manifest` through `writer` in 7-byte pieces and commits.
    static func fill(_ writer: any TensorContainerWriter, _ manifest: [ContainerTensor]) throws {
        for t in manifest {
            let sink = try writer.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let b = bytes(t)
            var at = 0
            while at < b.count {
                let n = min(7, b.count - at)
                try b[at..<(at + n)].withUnsafeBytes { try sink.append($0) }
                at += n
            }
            try sink.finish()
        }
        try writer.commit()
    }

    /// Writes one safetensors file holding `tensors`.
    static func shard(_ path: String, _ tensors: [ContainerTensor]) throws {
        try fill(try SafetensorsWriter(path: path, manifest: tensors), tensors)
    }

    static func f32(_ name: String, _ shape: [Int]) -> ContainerTensor { ContainerTensor(key: .model(name), dtype: .float32, shape: shape) }

    /// An index text mapping tensors to files.
    static func index(_ map: [(String, String)], extra: String = "") -> String {
        "{\"metadata\":{\"total_size\":0}\(extra),\"weight_map\":{" + map.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}}"
    }

    static func writeText(_ text: String, to path: String) throws { try TestDirectory.write(Array(text.utf8), to: path) }

    /// A GPT-2-shaped tiny manifest (HF names), 2 layers.
    static func gpt2Manifest(hidden h: Int = 8, vocab: Int = 11, positions: Int = 6, layers: Int = 2) -> [ContainerTensor] {
        var m = [f32("transformer.wte.weight", [vocab, h]), f32("transformer.wpe.weight", [positions, h])]
        for i in 0..<layers {
            let p = "transformer.h.\(i)."
            m += [
                f32(p + "ln_1.weight", [h]), f32(p + "ln_1.bias", [h]), f32(p + "attn.c_attn.weight", [h, 3 * h]), f32(p + "attn.c_attn.bias", [3 * h]),
                f32(p + "attn.c_proj.weight", [h, h]), f32(p + "attn.c_proj.bias", [h]), f32(p + "ln_2.weight", [h]), f32(p + "ln_2.bias", [h]),
                f32(p + "mlp.c_fc.weight", [h, 4 * h]), f32(p + "mlp.c_fc.bias", [4 * h]), f32(p + "mlp.c_proj.weight", [4 * h, h]),
                f32(p + "mlp.c_proj.bias", [h]),
            ]
        }
        return m + [f32("transformer.ln_f.weight", [h]), f32("transformer.ln_f.bias", [h])]
    }
}
