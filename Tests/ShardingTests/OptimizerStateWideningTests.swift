import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Megatron's targets keep Adam state as megatron-core's mixed-precision optimizers hold it:
/// float32 moments and a float32 master of every 16-bit parameter. A source with bfloat16
/// moments and no master (a Cerebras bf16 model) is widened exactly, and the report says so;
/// ckpt's own files keep what the source has.
@Suite struct OptimizerStateWideningTests {
    let io = InteropConvertTests()

    /// bfloat16 bytes widened to float32 bytes, written out independently of the converter: the
    /// 16 bits become the high half of each little-endian float32.
    static func widen(_ bf16: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bf16.count * 2)
        for i in stride(from: 0, to: bf16.count, by: 2) { out += [0, 0, bf16[i], bf16[i + 1]] }
        return out
    }

    /// A tiny LLaMA wafer file whose Adam moments are bfloat16 (the float32 ones rounded) and
    /// which holds no master copies, as a Cerebras bf16 checkpoint imports.
    static func writeHalfStateWafer(_ path: String) throws {
        try Fixtures.writeWafer(TinyModels.llama, dtype: .bfloat16, path: path)
        try Fixtures.rewrite(path) { _, tensors in
            for (k, t) in tensors where !k.isModel {
                if k.optimizerState == "master" {
                    tensors[k] = nil
                    continue
                }
                let bits = t.floats().map { HalfPrecision.bf16Bits(from: $0.isNaN ? 0 : $0) }
                tensors[k] = TensorData(dtype: .bfloat16, shape: t.shape, bytes: bits.withUnsafeBytes { Array($0) })
            }
        }
    }

    @Test(arguments: [MegatronTorchFormats.containerFormat, MegatronDistFormats.containerFormat])
    func halfAdamStateIsWidenedAndTheMasterMadeFromTheParameters(container: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeHalfStateWafer(dir + "/w.h5")
        let report = try io.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 2)), container: container, dir + "/meg")
        #expect(report.notes.contains("optimizer state widened from bfloat16 to float32 (exact): Megatron checkpoints keep Adam moments in float32"))
        #expect(report.notes.contains { $0.hasPrefix("fp32 master weights made from the bfloat16 parameters") }, "\(report.notes)")
        let source = try io.canonical(dir + "/w.h5", modelOnly: false)
        let out = try io.canonical(dir + "/meg", vocab: TinyModels.llama.vocab, modelOnly: false)
        var checked = 0
        for (key, bytes) in source {
            if key.isModel {
                #expect(out[key] == bytes, "\(key)")
                #expect(out[.optimizer("master", key.name)] == Self.widen(bytes), "master of \(key)")
            } else {
                #expect(out[key] == Self.widen(bytes), "\(key)")
            }
            checked += 1
        }
        #expect(out.count == source.count + source.keys.filter(\.isModel).count)
        #expect(checked > 100)
    }

    @Test func ckptRankFilesKeepTheSourceDTypes() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeHalfStateWafer(dir + "/w.h5")
        let report = try io.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 1)), dir + "/meg")
        #expect(report.notes.isEmpty)
        #expect(try io.canonical(dir + "/meg", modelOnly: false) == io.canonical(dir + "/w.h5", modelOnly: false))
    }

    @Test func float32AdamStateIsWrittenAsItIs() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.llama, dtype: .bfloat16, path: dir + "/w.h5")
        let report = try io.convert(
            dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 2)), container: MegatronDistFormats.containerFormat, dir + "/meg")
        #expect(!report.notes.contains { $0.contains("widened") || $0.contains("master") }, "\(report.notes)")
        #expect(
            try io.canonical(dir + "/meg", vocab: TinyModels.llama.vocab, modelOnly: false) == io.canonical(dir + "/w.h5", modelOnly: false))
    }
}
