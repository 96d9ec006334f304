import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `CerebrasMDLWriter` against the files cstorch.save wrote: written back from what ckpt read,
/// every leaf, every tensor byte and every metadata text (`__spec__`, `<key>.__metadata__`,
/// Python's `json.dumps` and torch's `treespec_dumps` reproduced) is the original's.
@Suite(.enabled(if: CerebrasFixtures.available, "Tests/Fixtures/interop/cerebras-* are not in this checkout"))
struct CerebrasWriterTests {
    /// Rewrites `name` with `filters` and returns (source, copy).
    func rewrite(_ name: String, filters: HDF5DatasetFilters, in dir: TestDirectory) throws -> (CerebrasMDLFile, CerebrasMDLFile) {
        let src = try CerebrasMDLFile(path: try CerebrasFixtures.file(name))
        let state = try CerebrasStateDict(file: src) { l in
            if case .linked = l.kind { return nil }
            return l.key.hasPrefix("zeros") ? nil : TensorKey(parsing: l.key)
        }
        let manifest = src.tensors.filter { state.tensorKeys.contains($0.key) }
        let out = dir.file("copy.mdl")
        let w = try CerebrasMDLWriter(path: out, state: state, manifest: manifest, filters: filters, chunkBytes: 512, threads: 2)
        for t in manifest {
            let sink = try w.beginTensor(t.key, dtype: t.dtype, shape: t.shape)
            let bytes = try src.readAll(t.key)
            // In two pieces, as a converter streams rows.
            try bytes.withUnsafeBytes { b in
                try sink.append(UnsafeRawBufferPointer(rebasing: b[0..<(b.count / 2)]))
                try sink.append(UnsafeRawBufferPointer(rebasing: b[(b.count / 2)...]))
            }
            try sink.finish()
        }
        try w.commit()
        return (src, try CerebrasMDLFile(path: out))
    }

    @Test(arguments: CerebrasFixtures.names, [HDF5DatasetFilters.lz4, .zstd(level: 1), .none])
    func rewritingGivesTheSameStateDict(name: String, filters: HDF5DatasetFilters) throws {
        let dir = TestDirectory()
        let (a, b) = try rewrite(name, filters: filters, in: dir)
        #expect(a.spec == b.spec)
        #expect(a.leaves.map(\.key) == b.leaves.map(\.key))
        for (x, y) in zip(a.leaves, b.leaves) {
            switch (x.kind, y.kind) {
            case (.tensor(let d1, let s1, _, _), .tensor(let d2, let s2, _, _)):
                #expect(d1 == d2 && s1 == s2, "\(x.key)")
                #expect(try a.readLeaf(x) == b.readLeaf(y), "\(x.key)")
            case (.object, .object): #expect(try a.objectBytes(x) == b.objectBytes(y))
            default: #expect(x.kind == y.kind, "\(x.key)")
            }
        }
    }

    @Test(arguments: CerebrasFixtures.names)
    func metadataTextIsCstorchsByteForByte(name: String) throws {
        let dir = TestDirectory()
        let (a, b) = try rewrite(name, filters: .zstd(level: 1), in: dir)
        var names = try a.file.rootAttributeNames()
        #expect(names == (try b.file.rootAttributeNames()))
        names.removeAll { $0 == "__version__" || $0 == "__SUCCESS__" }
        for n in names {
            let x = try a.file.rootAttribute(n)?.string, y = try b.file.rootAttribute(n)?.string
            #expect(x != nil && x == y, "\(name): root attribute \(n)")
        }
        #expect(try b.file.rootAttribute("__version__")?.number == 0.5)
        #expect(try b.file.rootAttribute("__SUCCESS__")?.bool == true)
        // The structure ckpt derives from the spec is the one cstorch recorded.
        #expect(CerebrasStateDict(spec: a.spec, leaves: []).structure == a.structure)
    }
}
