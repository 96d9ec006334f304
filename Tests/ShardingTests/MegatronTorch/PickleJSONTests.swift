import Containers
import Foundation
import Testing

@testable import Sharding

/// The JSON form of pickled Megatron state is lossless.
@Suite struct PickleJSONTests {
    @Test func everyValueKindRoundTripsThroughText() throws {
        let b = TreeBuilder(path: "p")
        let rng = b.tensor([5], .uint8, seed: 3)
        let value = TreeBuilder.dict([
            ("none", .none), ("t", .bool(true)), ("i", .int(-7)), ("big", .bigInt([1, 2, 3, 4, 5, 6, 7, 8, 9])),
            ("f", .float(0.1)), ("f3", .float(3.0)), ("huge", .float(1e300)), ("nan", .float(.nan)), ("inf", .float(-.infinity)),
            ("tiny", .float(2.2217652544711085e-63)), ("s", .string("héllo \"q\"")), ("by", .bytes([0, 255, 10])),
            ("l", .list([.int(1), .string("x")])), ("tu", .tuple([.float(0.9), .float(0.95)])), ("set", .set([.int(1)])),
            ("g", TreeBuilder.torch("bfloat16")),
            ("o", .object(PickleObject(type: PickleGlobal(module: "megatron.core.transformer.enums", name: "AttnBackend"), args: [.int(5)]))),
            ("bio", .object(PickleObject(type: PickleGlobal(module: "_io", name: "BytesIO"), state: .tuple([.bytes([1, 2]), .int(0), .none])))),
            (
                "od",
                .object(
                    PickleObject(type: PickleGlobal(module: "x", name: "Y"), listItems: [.int(1)], dictItems: [PickleDictEntry(key: .int(2), value: .int(3))]))
            ),
            (
                "intkeys",
                .dict([PickleDictEntry(key: .int(0), value: .string("a")), PickleDictEntry(key: .tuple([TreeBuilder.torch("bfloat16")]), value: .none)])
            ),
            ("dollar", TreeBuilder.dict([("$x", .int(1))])),
            ("rng", rng),
        ])
        let source = b.source(.none)
        var dropped: [String] = []
        let json = try PickleJSON.encode(
            value, tensorBytes: { t throws(ContainerError) in try MegatronTorchState.inlineBytes(t, source: source) }, dropped: &dropped)
        #expect(dropped.isEmpty)
        let text = json.text
        let parsed = try #require(JSONTree.parse(text))
        let back = try PickleJSON.decode(parsed, path: "m")
        guard case .tensor(let t)? = back.value["rng"] else {
            Issue.record("tensor lost")
            return
        }
        #expect(t.shape == [5] && t.dtypeName == "uint8" && back.inline[t.storage.key] == source.storages["0"])
        // Everything but the tensor (whose storage is now inline) and NaN (never equal) is identical.
        func strip(_ v: PickleValue) -> [PickleDictEntry] {
            (v.entries ?? []).filter { $0.key != .string("rng") && $0.key != .string("nan") }
        }
        // String-keyed dicts come back in sorted key order.
        #expect(strip(back.value) == strip(value).sorted { ($0.key.stringValue ?? "") < ($1.key.stringValue ?? "") })
        if case .float(let n)? = back.value["nan"] { #expect(n.isNaN) } else { Issue.record("nan lost") }
        #expect(text.contains(#""f":0.1"#) && text.contains(#"{"$float":"3.0"}"#))
    }

    @Test func largeTensorsAreDroppedWithANote() throws {
        let b = TreeBuilder(path: "p")
        let big = b.tensor([PickleJSON.maxInlineTensorBytes / 4 + 1], .float32, seed: 1)
        let source = b.source(.none)
        var dropped: [String] = []
        let json = try PickleJSON.encode(
            .list([big]), tensorBytes: { t throws(ContainerError) in try MegatronTorchState.inlineBytes(t, source: source) }, dropped: &dropped)
        #expect(json == .array([.null]) && dropped.count == 1)
    }

    @Test func malformedTagsAreErrors() {
        for text in [#"{"$float":"x"}"#, #"{"$bytes":"!!"}"#, #"{"$global":["a"]}"#, #"{"$what":1}"#, #"{"$dict":[[1]]}"#] {
            #expect(throws: ContainerError.self) { try PickleJSON.decode(JSONTree.parse(text)!, path: "m") }
        }
    }
}
