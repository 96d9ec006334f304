import CheckpointStore
import Containers
import Foundation
import Testing

@testable import Sharding

/// The directory structure of a Megatron `torch` checkpoint, over in-memory rank archives.
@Suite struct MegatronTorchDirectoryTests {
    /// A TP2 x PP2 tree on disk (empty .pt files) whose archives come from `trees`.
    private final class Tree {
        let root: String
        var sources: [String: InMemoryTorchSource] = [:]

        init(
            tracker: String? = "2", iterDir: String = "iter_0000002",
            ranks: [String] = ["mp_rank_00_000", "mp_rank_00_001", "mp_rank_01_000", "mp_rank_01_001"], seedOf: (String) -> Int64 = { _ in 1234 }
        ) throws {
            root = try Fixtures.tempDirectory()
            let fm = FileManager.default
            if let t = tracker { try (t + "\n").write(toFile: root + "/latest_checkpointed_iteration.txt", atomically: true, encoding: .utf8) }
            for r in ranks {
                let d = root + "/" + iterDir + "/" + r
                try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
                fm.createFile(atPath: d + "/model_optim_rng.pt", contents: Data())
                let built = try RankTrees.float16()
                var root = built.source.root
                if case .dict(var top) = root, let i = top.firstIndex(where: { $0.key == .string("args") }), case .object(var o) = top[i].value,
                    case .dict(var attrs)? = o.state
                {
                    attrs.removeAll { $0.key == .string("seed") || $0.key == .string("rank") }
                    attrs.append(PickleDictEntry(key: .string("seed"), value: .int(seedOf(r))))
                    attrs.append(PickleDictEntry(key: .string("rank"), value: .int(Int64(r.utf8.reduce(0) { $0 + Int($1) } % 8))))
                    o.state = .dict(attrs)
                    top[i].value = .object(o)
                    root = .dict(top)
                }
                sources[d + "/model_optim_rng.pt"] = InMemoryTorchSource(path: d + "/model_optim_rng.pt", root: root, storages: built.source.storages)
            }
        }

        func open(_ vocab: Int? = nil) throws(ContainerError) -> MegatronTorchDirectory {
            try MegatronTorchDirectory(path: root, vocab: vocab) { (p: String) throws(ContainerError) -> any TorchPickleSource in
                guard let s = self.sources[p] else { throw .io(path: p, detail: "no such file") }
                return s
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func opensEveryRankAndCarriesTheMetadata() throws {
        let t = try Tree()
        let d = try t.open()
        #expect(d.ranks.count == 4 && d.shape == MegatronShape(tp: 2, pp: 2, vocabDivisibleBy: 8) && !d.release)
        #expect(d.metadata.step == 2 && d.modelConfig.vocab == 101 && d.vocabSource == .nullTokenizer)
        #expect(d.metadata.modelConfig == d.modelConfig && d.metadata.optimizer?.lr == 0.00097)
        let blob = try #require(MegatronTorchMetadata.parse(userJSON: d.metadata.userJSON))
        #expect(blob.shape == d.shape && blob.ranks.count == 4 && blob.common["opt_param_scheduler"] != nil)
        #expect(d.notes.contains { $0.hasPrefix("tp1/pp1: ") })
        #expect(MegatronTorchDirectory.isMegatronTorch(t.root))
        #expect(!MegatronTorchDirectory.isMegatronTorch(t.root + "/iter_0000002/mp_rank_00_000"))
    }

    @Test func releaseAndIterationDirectories() throws {
        let t = try Tree(tracker: "release", iterDir: "release")
        #expect(try t.open().release)
        let u = try Tree(tracker: nil)
        let d = try MegatronTorchDirectory(path: u.root + "/iter_0000002") { (p: String) throws(ContainerError) -> any TorchPickleSource in
            guard let s = u.sources[p] else { throw .io(path: p, detail: "no such file") }
            return s
        }
        #expect(d.ranks.count == 4)
    }

    @Test func structuralProblemsAreOneLineErrors() throws {
        let cases: [(Tree, String)] = [
            (try Tree(ranks: ["mp_rank_00_000", "mp_rank_00_001", "mp_rank_01_000"]), "rank tp1/pp1 (mp_rank_01_001) is missing"),
            (try Tree(ranks: ["mp_rank_00_000", "mp_rank_00_001", "mp_rank_01_000", "mp_rank_01_001", "mp_rank_02_000"]), "outside"),
            (try Tree(ranks: ["mp_rank_00_000", "mp_rank_00_000_001"]), "expert-parallel"),
            (try Tree(ranks: ["mp_rank_00", "mp_rank_01"]), "pipeline_model_parallel_size 2"),
            (try Tree(seedOf: { $0 == "mp_rank_01_000" ? 99 : 1234 }), "args differ from rank tp0/pp0 in seed"),
            (try Tree(tracker: "latest"), "neither an iteration nor 'release'"),
            (try Tree(tracker: "3"), "names '3' but its directory is missing"),
        ]
        for (t, message) in cases {
            do {
                _ = try t.open()
                Issue.record("accepted: \(message)")
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }

    @Test func aGivenVocabReplacesTheTokenizersCount() throws {
        #expect(try Tree().open(100).modelConfig.vocab == 100)
        #expect(throws: ContainerError.self) { try Tree().open(50) }
    }
}
