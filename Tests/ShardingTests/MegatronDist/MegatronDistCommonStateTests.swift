import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// megatron-core 0.19+ moved the common state into the DCP byte item `common_state/shard_0_1`
/// (`torch.save([common_dict])`) and dropped `common_backend` from metadata.json. The
/// fully_reshardable fixture rewritten that way (same tensors, chunks and byte items, plus that
/// item; no common.pt) reads to the same ranks and metadata.
@Suite struct MegatronDistCommonStateTests {
    @Test func commonStateItemReadsLikeCommonPt() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "megatron-dist-llama-tp2pp2-fr"
        let src = InteropFixtures.root + "/" + name
        let dcp = try DCPCheckpoint(path: src + "/iter_0000002")
        let file = "__0_0.distcp"
        let tensors = dcp.metadata.tensors.map { t in
            DCPPlannedTensor(fqn: t.fqn, dtype: t.dtype ?? .float32, shape: t.shape, chunks: t.chunks.map { DCPPlannedChunk(box: $0.box, file: file) })
        }
        let items = dcp.metadata.bytesItems.map { DCPPlannedBytes(fqn: $0.fqn, file: file) }
        let plan = DCPWritePlan(tensors: tensors, bytesItems: items + [DCPPlannedBytes(fqn: MegatronDistDirectory.commonStateItem, file: file)])
        let iter = dir + "/ckpt/iter_0000002"
        try FileManager.default.createDirectory(atPath: dir + "/ckpt", withIntermediateDirectories: true)
        let w = try DCPCheckpointWriter(path: iter, plan: plan)
        for t in dcp.metadata.tensors {
            for c in t.chunks {
                let sink = try w.beginChunk(t.fqn, box: c.box)
                var bytes = [UInt8](repeating: 0, count: c.box.count * (t.dtype?.size ?? 4))
                try bytes.withUnsafeMutableBytes { try dcp.read(t, box: c.box, into: $0) }
                try bytes.withUnsafeBytes { try sink.append($0) }
                try sink.finish()
            }
        }
        for b in dcp.metadata.bytesItems { try w.writeBytesItem(b.fqn, bytes: try dcp.bytesItem(b.fqn)) }
        let common = try TorchArchive(path: src + "/iter_0000002/common.pt").root
        try w.writeObjectItem(MegatronDistDirectory.commonStateItem, .list([common]))
        try w.commit()
        try Data(#"{"sharded_backend": "torch_dist", "sharded_backend_version": 1}"#.utf8).write(
            to: URL(fileURLWithPath: iter + "/metadata.json"))
        try Data("2\n".utf8).write(to: URL(fileURLWithPath: dir + "/ckpt/latest_checkpointed_iteration.txt"))
        #expect(!FileManager.default.fileExists(atPath: iter + "/common.pt"))

        let open = { (p: String) throws -> MegatronDistDirectory in
            try MegatronDistDirectory(path: p, interpreter: try LayoutInterpreter()) { (d: String) throws(ContainerError) in try DCPDistStore(directory: d) }
        }
        let a = try open(src), b = try open(dir + "/ckpt")
        #expect(b.backend.commonBackend == nil && a.backend.commonBackend == "torch")
        #expect(b.modelConfig == a.modelConfig && b.optimizerConfig == a.optimizerConfig && b.optimizerForm == .fullyReshardable)
        #expect(b.metadata.userJSON == a.metadata.userJSON)
        for (f, r) in a.ranks {
            let s = try #require(b.ranks[f])
            #expect(s.tensors == r.tensors)
            for t in r.tensors { #expect(try s.readAll(t.key) == r.readAll(t.key), "\(f) \(t.key)") }
        }
    }
}
