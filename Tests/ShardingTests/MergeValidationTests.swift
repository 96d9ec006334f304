import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// Merging refuses inconsistent inputs with an error naming the rank file and tensor, and never
/// leaves a partial output.
@Suite struct MergeValidationTests {
    let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 4)

    /// A wafer checkpoint sharded to TP=2 x PP=2 in a fresh directory.
    func sharded() throws -> (dir: String, mega: String) {
        let dir = try Fixtures.tempDirectory()
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: dir + "/w.h5")
        _ = try Converter().convert(dir + "/w.h5", to: .megatron(shape), output: dir + "/m")
        return (dir, dir + "/m")
    }

    /// Converts to wafer expecting failure; checks no output or temporary file is left behind.
    func failure(_ dir: String, _ mega: String, allowDivergent: Bool = false) throws -> ShardingError? {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try Converter(options: ConvertOptions(allowDivergentReplicas: allowDivergent)).convert(mega, to: .wafer, output: dir + "/out.h5")
            return nil
        } catch {
            let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("out") }
            #expect(left.isEmpty, "partial output left: \(left)")
            return error
        }
    }

    @Test func missingRankIsNamed() throws {
        let (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 1, pp: 1)
        try FileManager.default.removeItem(atPath: victim)
        #expect(try failure(dir, mega) == .missingRank(path: victim, rank: "tp1/pp1"))
    }

    @Test func ranksDisagreeingOnStepOrConfig() throws {
        var (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 1, pp: 0)
        try Fixtures.rewrite(victim) { m, _ in m.step = 99 }
        let e = try failure(dir, mega)
        guard case .ranksDisagree(let path, let field, _)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(path == victim && field == "step")

        (dir, mega) = try sharded()
        let victim2 = Fixtures.rankPath(mega, shape, tp: 0, pp: 1)
        try Fixtures.rewrite(victim2) { m, _ in m.modelConfig!.normEps = 1e-6 }
        let e2 = try failure(dir, mega)
        guard case .ranksDisagree(let path2, let field2, _)? = e2 else { Issue.record("got \(String(describing: e2))"); return }
        #expect(path2 == victim2 && field2 == "model_config")
        #expect(e2!.description.hasPrefix(victim2 + ": model_config disagrees"))
    }

    @Test func wrongLocalShapeIsNamed() throws {
        let (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 1, pp: 0)
        let name = "decoder.layers.1.self_attention.linear_proj.weight"
        try Fixtures.rewrite(victim) { _, t in
            t[.model(name)] = TensorData(shape: [16, 16], floats: [Float](repeating: 1, count: 256))
        }
        #expect(try failure(dir, mega) == .wrongShape(path: victim, tensor: name, expected: [16, 8], actual: [16, 16]))
    }

    @Test func missingOptimizerStateIsNamed() throws {
        let (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 1, pp: 1)
        let key = TensorKey.optimizer("exp_avg", "decoder.layers.0.mlp.linear_fc1.weight")
        try Fixtures.rewrite(victim) { _, t in t[key] = nil }
        #expect(try failure(dir, mega) == .missingTensor(path: victim, tensor: key.description))
    }

    @Test func divergentReplicaIsRefusedOrTakenFromRankZero() throws {
        let (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 1, pp: 0)
        let key = TensorKey.model("decoder.layers.1.input_layernorm.weight")
        let original = try CheckpointReader(path: victim).read(key).floats()
        try Fixtures.rewrite(victim) { _, t in
            var v = original
            v[3] += 0.5
            t[key] = TensorData(shape: [16], floats: v)
        }
        do {
            _ = try Converter().convert(mega, to: .wafer, output: dir + "/out.h5")
            Issue.record("divergent replica accepted")
        } catch {
            guard case .divergentReplica(let path, let tensor, let reference, let diff) = error else {
                Issue.record("got \(error)"); return
            }
            #expect(path == victim && tensor == key.name && reference.contains("mp_rank_00_000"))
            #expect(diff == Double(abs((original[3] + 0.5) - original[3])))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.h5"))
        let report = try Converter(options: ConvertOptions(allowDivergentReplicas: true)).convert(mega, to: .wafer, output: dir + "/out.h5")
        #expect(report.divergentReplicas.count == 1)
        #expect(report.divergentReplicas.first?.tensor == key.name)
        #expect(try Fixtures.tensors(dir + "/out.h5") == Fixtures.tensors(dir + "/w.h5"))
    }

    @Test func divergentTiedCopyIsRefused() throws {
        let (dir, mega) = try sharded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = Fixtures.rankPath(mega, shape, tp: 0, pp: 1)
        try Fixtures.rewrite(victim) { _, t in
            let key = TensorKey.model("output_layer.weight")
            var d = t[key]!
            d.bytes[0] ^= 1
            t[key] = d
        }
        guard case .divergentReplica(let path, let tensor, _, _)? = try failure(dir, mega) else {
            Issue.record("tied copy divergence not detected"); return
        }
        #expect(path == victim && tensor == "output_layer.weight")
    }

    @Test func invalidTargetShapesLeaveNoOutput() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Fixtures.writeWafer(TinyModels.llama, dtype: .bfloat16, path: dir + "/w.h5")
        let converter = try Converter()
        let tp32 = "megatron(tp=32, pp=1)", pp3 = "megatron(tp=1, pp=3)"
        #expect(throws: ShardingError.unusableTarget(layout: tp32, reason: .tensorParallelDoesNotDivide(what: "attention heads", value: 16, tp: 32))) {
            _ = try converter.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 32, pp: 1)), output: dir + "/m")
        }
        #expect(throws: ShardingError.unusableTarget(layout: pp3, reason: .pipelineParallelDoesNotDivideLayers(layers: 4, pp: 3))) {
            _ = try converter.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 1, pp: 3)), output: dir + "/m")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["w.h5"])
        // An existing output is never overwritten.
        try FileManager.default.createDirectory(atPath: dir + "/m", withIntermediateDirectories: false)
        #expect(throws: ShardingError.outputExists(path: dir + "/m")) {
            _ = try converter.convert(dir + "/w.h5", to: .megatron(MegatronShape(tp: 2, pp: 1)), output: dir + "/m")
        }
    }
}
