import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// A wafer source whose fused pieces (Q, K, V into `linear_qkv`) disagree on their optimizer
/// state is refused naming the piece that lacks the state (issue 9, item 11).
@Suite struct FusedPieceValidationTests {
    let shape = MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 4)

    @Test(arguments: ["q", "k", "v"])
    func missingOptimizerStateOfAFusedPieceIsNamed(_ part: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/w.h5"
        try Fixtures.writeWafer(TinyModels.gpt2, dtype: .float32, path: src)
        let key = TensorKey.optimizer("exp_avg_sq", "layers.0.attn.\(part).weight")
        try Fixtures.rewrite(src) { _, t in
            #expect(t[key] != nil)
            t[key] = nil
        }
        #expect(throws: ShardingError.missingTensor(path: src, tensor: key.description)) {
            _ = try Converter().convert(src, to: .megatron(shape), output: dir + "/m")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "w.h5" }
        #expect(left.isEmpty, "output left: \(left)")
    }
}

