import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// megatron-core 0.16.1's optimizer parameter groups, against the order its optimizer held
/// the parameters in on every rank of both fixtures.
@Suite struct MegatronParamGroupsTests {
    @Test(arguments: ["megatron-llama-tp2pp2", "megatron-gpt2-tp2pp2-dp2"])
    func groupsMatchTheFixture(name: String) throws {
        let e = try InteropFixtures.expected(name)
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        for (dir, r) in ranks {
            let model = try #require(r["model"] as? [String: [String: Any]])
            let order = model.keys.sorted { MegatronNaming.local.registrationOrder($0) < MegatronNaming.local.registrationOrder($1) }
            let params = order.map { MegatronParamGroups.Param(name: $0, shape: model[$0]?["shape"] as? [Int] ?? [], dtype: .bfloat16) }
            let g = MegatronParamGroups(params: params)
            // The distributed optimizer's inner groups hold shards, not parameters: nothing recorded.
            let recorded = try #require(r["optimizer_param_order"] as? [[String]])
            if recorded.isEmpty && name.contains("dp2") { continue }
            #expect(g.groups.map { $0.map(\.name) } == recorded, "\(dir)")
            #expect(g.indexLists.flatMap { $0 } == Array(0..<params.count))
            #expect(g.masterLists == g.groups)
        }
    }

    @Test func biasesAndVectorsSkipWeightDecayAndIndicesRunGroupAfterGroup() {
        let p = [
            MegatronParamGroups.Param(name: "w1", shape: [4, 4], dtype: .bfloat16), MegatronParamGroups.Param(name: "b1", shape: [4], dtype: .bfloat16),
            MegatronParamGroups.Param(name: "x.bias", shape: [2, 2], dtype: .float32), MegatronParamGroups.Param(name: "w2", shape: [4, 4], dtype: .float32),
        ]
        let g = MegatronParamGroups(params: p)
        #expect(g.groups.map { $0.map(\.name) } == [["w1", "w2"], ["b1", "x.bias"]])
        #expect(g.indices == ["w1": 0, "w2": 1, "b1": 2, "x.bias": 3])
        #expect(g.indexLists == [[0, 1], [2, 3]])
        #expect(g.masterLists.map { $0.map(\.name) } == [["w1"], ["b1"]])
        #expect(g.weightDecayMultipliers == [1, 0])
    }
}
