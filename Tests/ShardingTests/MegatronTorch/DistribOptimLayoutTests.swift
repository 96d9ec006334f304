import CheckpointStore
import Foundation
import Testing

@testable import Sharding

/// The bucket walk of megatron-core's parameter-and-gradient buffers, on hand-made layouts and
/// against the buffers megatron-core 0.16.1 itself built for the gpt2 DP 2 fixture.
@Suite struct DistribOptimLayoutTests {
    typealias P = DistribOptimLayout.Param

    private func layout(_ params: [P], dp: Int = 1, bucket: Int? = nil, pp: Int = 0, nccl: Bool = false) throws -> DistribOptimLayout.Buffer {
        let l = try DistribOptimLayout(
            params: params, settings: DistribOptimSettings(dataParallel: dp, bucketSize: bucket, padForHighNCCLBusBandwidth: nccl), ppRank: pp)
        try #require(l.buffers.count == 1)
        return l.buffers[0]
    }

    private func starts(_ b: DistribOptimLayout.Buffer) -> [String: (Int, Int, Int)] {
        Dictionary(uniqueKeysWithValues: b.placements.map { ($0.name, ($0.bufferStart, $0.fileOffset, $0.bucket)) })
    }

    @Test func oneBucketReversedWith64Alignment() throws {
        let b = try layout([P(name: "a", count: 10, dtype: .bfloat16), P(name: "b", count: 100, dtype: .bfloat16), P(name: "c", count: 3, dtype: .bfloat16)])
        // Walk c, b, a: c at 0, b at pad64(3) = 64, a at pad64(164) = 192; end 202 -> 256.
        let s = starts(b)
        #expect(s["c"]! == (0, 0, 0) && s["b"]! == (64, 64, 0) && s["a"]! == (192, 192, 0))
        #expect(b.buckets == [DistribOptimLayout.Bucket(start: 0, end: 256, numelUnpadded: 202)])
        #expect(b.numelUnpadded == 202 && b.numel == 256)
    }

    @Test func bucketEndsPadToLcmOfDPAnd128AndTheFileDropsThePadding() throws {
        // DP 3: lcm(3, 128) = 384. Bucket size 100: a bucket closes once it holds >= 100.
        let params = (0..<4).map { P(name: "p\($0)", count: 70, dtype: .bfloat16) }
        let b = try layout(params, dp: 3, bucket: 100)
        // p3 at 0..70 (70 < 100), p2 at 128..198 (>= 100: close, end 384), p1 at 384..454,
        // p0 at 512..582 (>= 100 from 384: close, end 768).
        #expect(
            b.buckets == [
                DistribOptimLayout.Bucket(start: 0, end: 384, numelUnpadded: 198),
                DistribOptimLayout.Bucket(start: 384, end: 768, numelUnpadded: 198),
            ])
        let s = starts(b)
        #expect(s["p3"]! == (0, 0, 0) && s["p2"]! == (128, 128, 0))
        #expect(s["p1"]! == (384, 198, 1) && s["p0"]! == (512, 326, 1))
    }

    @Test func highNCCLBusBandwidthPadsTo65536() throws {
        let b = try layout([P(name: "a", count: 5, dtype: .float32)], dp: 2, nccl: true)
        #expect(b.buckets == [DistribOptimLayout.Bucket(start: 0, end: 65536, numelUnpadded: 5)])
    }

    @Test func sharedEmbeddingGetsItsOwnBucketAndTheEarlyCloseKeepsTheGap() throws {
        // Registration order: embedding (shared), x, y. Walk: y, x, embedding.
        let b = try layout([
            P(name: "emb", count: 50, dtype: .bfloat16, sharedEmbedding: true), P(name: "x", count: 10, dtype: .bfloat16),
            P(name: "y", count: 20, dtype: .bfloat16),
        ])
        // y 0..20, x at 64..74; before emb the bucket closes at pad64(74) = 128 (the gap 74..128
        // counts in numel_unpadded), end pad128 = 128; emb 128..178 closes its own bucket -> 256.
        #expect(
            b.buckets == [
                DistribOptimLayout.Bucket(start: 0, end: 128, numelUnpadded: 128),
                DistribOptimLayout.Bucket(start: 128, end: 256, numelUnpadded: 50),
            ])
        #expect(starts(b)["emb"]! == (128, 128, 1))
        // The output layer of the last stage is first in the walk: no early close, closed after.
        let last = try layout([P(name: "w", count: 30, dtype: .bfloat16), P(name: "out", count: 40, dtype: .bfloat16, sharedEmbedding: true)], pp: 1)
        #expect(
            last.buckets == [
                DistribOptimLayout.Bucket(start: 0, end: 128, numelUnpadded: 40),
                DistribOptimLayout.Bucket(start: 128, end: 256, numelUnpadded: 30),
            ])
        #expect(starts(last)["w"]! == (128, 40, 1))
    }

    @Test func laterPipelineStagesHaveNoBucketing() throws {
        let params = (0..<4).map { P(name: "p\($0)", count: 70, dtype: .bfloat16) }
        #expect(try layout(params, bucket: 100, pp: 1).buckets.count == 1)
        #expect(try layout(params, bucket: 100, pp: 0).buckets.count == 2)
    }

    @Test func bucketCountDividesTheRanksParameters() throws {
        let params = (0..<4).map { P(name: "p\($0)", count: 100, dtype: .bfloat16) }
        let l = try DistribOptimLayout(params: params, settings: DistribOptimSettings(dataParallel: 1, bucketCount: 2), ppRank: 0)
        #expect(l.buffers[0].buckets.count == 2)  // bucket size 400 / 2 = 200: two params each
    }

    @Test func buffersFollowParamAndGradDTypes() throws {
        let params = [P(name: "a", count: 4, dtype: .bfloat16), P(name: "b", count: 4, dtype: .float32), P(name: "c", count: 4, dtype: .bfloat16)]
        let l = try DistribOptimLayout(params: params, settings: DistribOptimSettings(dataParallel: 1, gradsInFP32: true), ppRank: 0)
        #expect(l.buffers.map(\.paramDType) == [.bfloat16, .float32] && l.buffers.map(\.gradDType) == [.float32, .float32])
        #expect(l.buffers[0].placements.map(\.name) == ["c", "a"])
        let own = try DistribOptimLayout(params: params, settings: DistribOptimSettings(dataParallel: 1), ppRank: 0)
        #expect(own.buffers.map(\.gradDType) == [.bfloat16, .float32])
        #expect(own.placement(of: "b")?.buffer == 1)
    }

    @Test func overflowIsAnError() {
        #expect(throws: DistribOptimLayoutError.overflow) {
            try DistribOptimLayout(
                params: [P(name: "a", count: Int.max - 10, dtype: .float32), P(name: "b", count: 100, dtype: .float32)],
                settings: DistribOptimSettings(dataParallel: 1), ppRank: 0)
        }
    }

    /// The walk reproduces, element for element, the buffers megatron-core 0.16.1 built on
    /// every rank of the gpt2 fixture (DP 2, overlap_grad_reduce, bucket size 4000, tied
    /// embeddings over PP 2); and the registration order the walk reverses is the order
    /// `MegatronNaming.registrationOrder` gives.
    @Test func fixtureBuffersAreReproduced() throws {
        let e = try InteropFixtures.expected("megatron-gpt2-tp2pp2-dp2")
        let ranks = try #require(e["ranks"] as? [String: [String: Any]])
        #expect(ranks.count == 4)
        for (dir, r) in ranks {
            let pp = try #require(r["pp_rank"] as? Int)
            let model = try #require(r["model"] as? [String: [String: Any]])
            let gb = try #require((r["grad_buffers"] as? [[String: Any]])?.first)
            let buckets = try #require(gb["buckets"] as? [[String: Any]])
            let walk = buckets.flatMap { $0["params"] as? [String] ?? [] }
            let registration = Array(walk.reversed())
            #expect(registration == model.keys.sorted { MegatronNaming.local.registrationOrder($0) < MegatronNaming.local.registrationOrder($1) }, "\(dir)")
            let shared: Set<String> = pp == 0 ? ["embedding.word_embeddings.weight"] : ["output_layer.weight"]
            let params = registration.map { name in
                P(name: name, count: ((model[name]?["shape"] as? [Int]) ?? []).reduce(1, *), dtype: .bfloat16, sharedEmbedding: shared.contains(name))
            }
            let l = try DistribOptimLayout(
                params: params, settings: DistribOptimSettings(dataParallel: 2, bucketSize: 4000, gradsInFP32: true), ppRank: pp)
            try #require(l.buffers.count == 1)
            let b = l.buffers[0]
            #expect(b.numelUnpadded == gb["numel_unpadded"] as? Int && b.numel == gb["numel"] as? Int, "\(dir)")
            #expect(b.buckets.map { [$0.start, $0.end] } == gb["bucket_indices"] as? [[Int]], "\(dir)")
            #expect(b.buckets.map(\.numelUnpadded) == buckets.map { $0["numel_unpadded"] as? Int ?? -1 }, "\(dir)")
            let map = try #require(gb["param_index_map"] as? [String: [Int]])
            for p in b.placements {
                #expect(map[p.name] == [p.bufferStart, p.bufferStart + p.count, p.bucket], "\(dir) \(p.name)")
            }
        }
    }
}
