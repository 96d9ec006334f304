import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// Damaged or hostile torch_dist directories (a copy of a real fixture with one file changed):
/// each is refused with one line naming the file and what is wrong, and nothing is executed.
@Suite struct MegatronDistHostileTests {
    static let fixture = "megatron-dist-llama-tp2pp2-fr"

    /// A copy of the fixture in a fresh directory; returns its iteration directory.
    func copy(_ dir: String) throws -> String {
        try FileManager.default.copyItem(atPath: InteropFixtures.root + "/" + Self.fixture, toPath: dir + "/ckpt")
        return dir + "/ckpt/iter_0000002"
    }

    /// The error opening `dir/ckpt` through the registry's source (as `ckpt convert` does).
    func openError(_ dir: String) -> String? {
        do {
            _ = try CheckpointSource(path: dir + "/ckpt", formats: .all())
            return nil
        } catch { return error.description }
    }

    /// Rewrites common.pt with `change` applied to its root.
    func rewriteCommon(_ iter: String, _ change: (inout [PickleDictEntry]) -> Void) throws {
        let p = iter + "/common.pt"
        guard case .dict(var root) = try TorchArchive(path: p).root else { throw ContainerError.malformed(path: p, detail: "test") }
        change(&root)
        try FileManager.default.removeItem(atPath: p)
        let w = try TorchArchiveWriter(path: p, prefix: "common")
        try w.commit(root: .dict(root))
    }

    func setArg(_ root: inout [PickleDictEntry], _ name: String, _ value: PickleValue) {
        guard let i = root.firstIndex(where: { $0.key == .string("args") }) else { return }
        MegatronStateDictBuilder.setAttributes(&root[i].value, [(name, value)])
    }

    @Test func theFixtureItselfOpens() throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try copy(dir)
        #expect(openError(dir) == nil)
    }

    @Test(arguments: [
        ("no metadata.json", "metadata.json: megatron-core writes it last, so this save did not finish"),
        ("zarr", "not supported: sharded_backend 'zarr'"),
        ("no common.pt", "no common.pt and no DCP item common_state/shard_0_1"),
        ("truncated common.pt", "common.pt: malformed file"),
        ("os.system in common.pt", "os.system"),
        ("num_layers 6", "decoder.layers.self_attention.linear_qkv.layer_norm_weight has global shape [4, 32], rank tp0/pp0's"),
        ("fully_sharded_model_space", "fully_sharded_model_space (megatron-core 0.8-0.14's default"),
        ("no args", "common.pt: malformed file (no args entry)"),
        ("iteration is text", "no integer iteration entry"),
        ("MoE", "args.num_experts = 8: mixture-of-experts models are not supported"),
    ])
    func refusedInOneLine(_ damage: String, _ message: String) throws {
        let dir = try Fixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let iter = try copy(dir)
        let fm = FileManager.default
        switch damage {
        case "no metadata.json": try fm.removeItem(atPath: iter + "/metadata.json")
        case "zarr":
            try Data(#"{"sharded_backend": "zarr", "sharded_backend_version": 1}"#.utf8).write(to: URL(fileURLWithPath: iter + "/metadata.json"))
        case "no common.pt": try fm.removeItem(atPath: iter + "/common.pt")
        case "truncated common.pt":
            let d = try Data(contentsOf: URL(fileURLWithPath: iter + "/common.pt"))
            try d.prefix(d.count / 2).write(to: URL(fileURLWithPath: iter + "/common.pt"))
        case "os.system in common.pt":
            try rewriteCommon(iter) { $0.append(PickleDictEntry(key: .string("hook"), value: .global(PickleGlobal(module: "os", name: "system")))) }
        case "num_layers 6": try rewriteCommon(iter) { setArg(&$0, "num_layers", .int(6)) }
        case "fully_sharded_model_space":
            try rewriteCommon(iter) { root in
                guard let i = root.firstIndex(where: { $0.key == .string("content_metadata") }) else { return }
                root[i].value = .dict([PickleDictEntry(key: .string("distrib_optim_sharding_type"), value: .string("fully_sharded_model_space"))])
                if let o = root.firstIndex(where: { $0.key == .string("optimizer") }) { root.remove(at: o) }
            }
        case "no args": try rewriteCommon(iter) { $0.removeAll { $0.key == .string("args") } }
        case "iteration is text":
            try rewriteCommon(iter) { root in
                if let i = root.firstIndex(where: { $0.key == .string("iteration") }) { root[i].value = .string("2") }
            }
        case "MoE": try rewriteCommon(iter) { setArg(&$0, "num_experts", .int(8)) }
        default: Issue.record("unknown case \(damage)")
        }
        let e = try #require(openError(dir), "\(damage) was accepted")
        #expect(e.contains(message), "\(damage): \(e)")
        #expect(!e.contains("\n"), "\(damage): \(e)")
    }
}
