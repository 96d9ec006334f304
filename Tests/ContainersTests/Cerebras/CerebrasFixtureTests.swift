import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `.mdl` files written by cstorch.save (cerebras-pytorch 2.10, Model Zoo GPT-2 and LLaMA in
/// bf16 after two AdamW steps, and a file of every other value kind): every leaf ckpt reads is
/// what the library held in memory.
@Suite(.enabled(if: CerebrasFixtures.available, "Tests/Fixtures/interop/cerebras-* are not in this checkout"))
struct CerebrasFixtureTests {
    @Test(arguments: CerebrasFixtures.names)
    func everyTensorMatchesWhatCstorchHeld(name: String) throws {
        let f = try CerebrasMDLFile(path: try CerebrasFixtures.file(name))
        let want = try CerebrasFixtures.tensors(name)
        let e = try CerebrasFixtures.expected(name)
        let keys = try #require(e["keys"]?.arrayValue).compactMap(\.stringValue)
        #expect(f.leaves.map(\.key) == keys)
        var seen = 0
        for l in f.leaves {
            guard let w = want[l.key] else { continue }
            let bytes: [UInt8]
            switch l.kind {
            case .tensor(let d, let s, _, _):
                #expect(TorchDTypeName.name(d) == w.dtype, "\(name): \(l.key)")
                #expect(s == w.shape, "\(name): \(l.key)")
                bytes = try f.readLeaf(l)
            case .linked(let target):
                // Saved once: the target holds the same tensor.
                bytes = try f.readLeaf(try #require(f.leaf(target)))
            default:
                Issue.record("\(name): \(l.key) is a tensor cstorch held but reads as \(l.kind)")
                continue
            }
            #expect(CerebrasFixtures.hex(bytes) == w.xxh3, "\(name): \(l.key)")
            seen += 1
        }
        #expect(seen == want.count)
        #expect(f.cstorchVersion == "2.10.0")
    }

    @Test(arguments: CerebrasFixtures.names)
    func everyOtherLeafHoldsItsValue(name: String) throws {
        let f = try CerebrasMDLFile(path: try CerebrasFixtures.file(name))
        let values = try #require(try CerebrasFixtures.expected(name)["values"]?.objectValue)
        for (k, v) in values.members {
            var leaf = try #require(f.leaf(k), "\(name): no leaf \(k)")
            if case .linked(let target) = leaf.kind { leaf = try #require(f.leaf(target)) }
            switch (leaf.kind, v) {
            case (.scalar(let s), _): #expect(s.doubleValue == v.doubleValue && s.boolValue == v.boolValue, "\(name): \(k)")
            case (.string(let s), .string(let t)): #expect(s == t, "\(name): \(k)")
            case (.none, .null): break
            case (.object, .object(let o)):
                let hex = try f.objectBytes(leaf).map { String(format: "%02x", $0) }.joined()
                #expect(o["bytes_hex"]?.stringValue.map { hex.contains($0) } == true, "\(name): \(k): the pickle holds the bytes")
            default: Issue.record("\(name): \(k) reads as \(leaf.kind), the library held \(JSONText.compact(v))")
            }
        }
    }
}
