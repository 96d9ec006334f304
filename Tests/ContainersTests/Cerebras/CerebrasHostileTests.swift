import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// `.mdl` files that are damaged or lie: refused with one line naming the file (and the leaf),
/// never a crash, nothing executed.
@Suite struct CerebrasHostileTests {
    /// A small valid state dict: one bf16 tensor (incompressible bytes), a scalar, a string.
    static let tensorBytes: [UInt8] = {
        var state: UInt64 = 11
        return (0..<512).map { _ in
            state = state &+ 0x9E37_79B9_7F4A_7C15
            var z = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }()

    static func state() -> CerebrasStateDict {
        CerebrasStateDict(
            root: .dict([
                ("model", .dict([("w", .leaf(.tensor(.model("w"))))], ordered: true)), ("step", .leaf(.scalar(.int(3)))),
                ("name", .leaf(.string("tiny"))),
            ]))
    }

    /// Writes the valid file with `filters`.
    static func write(_ path: String, filters: HDF5DatasetFilters = .lz4) throws {
        let manifest = [ContainerTensor(key: .model("w"), dtype: .bfloat16, shape: [16, 16])]
        let w = try CerebrasMDLWriter(path: path, state: state(), manifest: manifest, filters: filters, threads: 1)
        let s = try w.beginTensor(.model("w"), dtype: .bfloat16, shape: [16, 16])
        try tensorBytes.withUnsafeBytes { try s.append($0) }
        try s.finish()
        try w.commit()
    }

    /// Writes root attributes by hand (a writer of cstorch's layout that leaves things out).
    static func writeRaw(_ path: String, _ attributes: [(String, HDF5AttributeValue)]) throws {
        let w = try HDF5DatasetFileWriter(path: path, threads: 1)
        for (n, v) in attributes { try w.setRootAttribute(n, v) }
        try w.commit()
    }

    static func text(_ s: String) -> HDF5AttributeValue { .strings([s], shape: []) }

    /// The root attributes of the valid file, as strings, for edited copies.
    static func validAttributes() -> [(String, HDF5AttributeValue)] {
        let s = CerebrasStateDict(root: .dict([("step", .leaf(.scalar(.int(3))))]))
        let spec = JSONText.python(.array([s.structure, .string(s.spec.dumps())]), indent: 4)
        let meta = CerebrasLeafDocument.text(key: "step", metadata: CerebrasLeafDocument.metadata(.scalar(.int(3)), dtype: nil, shape: nil))
        return [
            ("__spec__", text(spec)), ("__version__", .floats([0.5], shape: [])), ("__cstorch_version__", text("2.10.0")),
            ("step.__metadata__", text(meta)), ("__SUCCESS__", .bools([true], shape: [])),
        ]
    }

    func refusal(_ path: String) -> String? {
        do {
            let f = try CerebrasMDLFile(path: path)
            for t in f.tensors { _ = try f.readAll(t.key) }
            return nil
        } catch { return error.description }
    }

    @Test func theValidFileReads() throws {
        let d = TestDirectory()
        try Self.write(d.file("ok.mdl"))
        let f = try CerebrasMDLFile(path: d.file("ok.mdl"))
        #expect(try f.readAll(.model("w")) == Self.tensorBytes)
        try Self.writeRaw(d.file("raw.mdl"), Self.validAttributes())
        #expect(refusal(d.file("raw.mdl")) == nil)
        #expect(try FileKind.sniff(d.file("raw.mdl")) == .cerebras)
    }

    @Test func aFileWithoutSuccessIsPartiallyWritten() throws {
        let d = TestDirectory()
        try Self.writeRaw(d.file("p.mdl"), Self.validAttributes().filter { $0.0 != "__SUCCESS__" })
        let e = try #require(refusal(d.file("p.mdl")))
        #expect(e.contains("partially written") && e.hasPrefix(d.file("p.mdl")) && !e.contains("\n"), "\(e)")
        try Self.writeRaw(d.file("f.mdl"), Self.validAttributes().map { $0.0 == "__SUCCESS__" ? ($0.0, .bools([false], shape: [])) : $0 })
        #expect(refusal(d.file("f.mdl"))?.contains("partially written") == true)
    }

    @Test(arguments: [
        ("__spec__", "[not json", "__spec__ is not JSON"),
        ("__spec__", "[null, \"[2, {}]\"]", "protocol 2"),
        (
            "__spec__",
            "[null, \"[1, {\\\"type\\\": \\\"builtins.frozenset\\\", \\\"context\\\": \\\"null\\\", \\\"children_spec\\\": [{\\\"type\\\": null, \\\"context\\\": null, \\\"children_spec\\\": []}]}]\"]",
            "not supported"
        ),
        ("step.__metadata__", "{\"__spec__\": ", "is not JSON"),
        (
            "step.__metadata__", CerebrasLeafDocument.text(key: "step", metadata: [("__TYPE__", .string("EvalSerializer"))]),
            "serializer EvalSerializer is not supported"
        ),
        (
            "step.__metadata__", CerebrasLeafDocument.text(key: "step", metadata: [("scalar_value", .string("x")), ("__TYPE__", .string("ScalarSerializer"))]),
            "without a number or bool scalar_value"
        ),
        (
            "step.__metadata__",
            "{\"__spec__\": [{}, \"[1, {\\\"type\\\": \\\"builtins.dict\\\", \\\"context\\\": \\\"[\\\\\\\"step\\\\\\\"]\\\", \\\"children_spec\\\": [{\\\"type\\\": null, \\\"context\\\": null, \\\"children_spec\\\": []}]}]\"], \"__objects__\": [\"step\"], \"step.__metadata__\": {\"key\": \"step\", \"__LINKED__\": true, \"__TYPE__\": \"LinkedObject\"}}",
            "linked to step, which is not another leaf"
        ),
        ("__version__", "", "format 0.4"),
    ])
    func badSpecsAndMetadataAreOneLineErrors(attribute: String, value: String, want: String) throws {
        let d = TestDirectory()
        let attrs = Self.validAttributes().map { n, v -> (String, HDF5AttributeValue) in
            guard n == attribute else { return (n, v) }
            return attribute == "__version__" ? (n, .floats([0.4], shape: [])) : (n, Self.text(value))
        }
        try Self.writeRaw(d.file("bad.mdl"), attrs)
        let e = try #require(refusal(d.file("bad.mdl")), "accepted a file whose \(attribute) is \(value)")
        #expect(e.contains(want) && !e.contains("\n"), "\(e)")
    }

    @Test func aMissingLeafMetadataIsNamed() throws {
        let d = TestDirectory()
        try Self.writeRaw(d.file("m.mdl"), Self.validAttributes().filter { $0.0 != "step.__metadata__" })
        #expect(refusal(d.file("m.mdl"))?.contains("leaf step has no string root attribute step.__metadata__") == true)
    }

    /// The LZ4 chunk of `w` inside the file: its 16-byte header (decoded size, block size, stored
    /// size) sits just before the raw (incompressible) tensor bytes.
    func patchChunk(_ path: String, header offset: Int, _ value: UInt64, bytes: Int) throws {
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array(Self.tensorBytes[0..<32])
        guard let at = (0...(data.count - needle.count)).first(where: { Array(data[$0..<($0 + needle.count)]) == needle }) else {
            Issue.record("tensor bytes not found in the file")
            return
        }
        let start = at - 16
        for k in 0..<bytes { data[start + offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(bytes - 1 - k))) }
        try Data(data).write(to: URL(fileURLWithPath: path))
    }

    @Test(arguments: [
        (0, UInt64(1) << 33, 8, "declares 8589934592 decoded bytes"), (12, 600, 4, "claims 600 stored bytes"), (12, 100, 4, "LZ4 block 0"),
        (8, 0, 4, "block size of 0"),
    ])
    func lyingLZ4BlocksAreOneLineErrors(offset: Int, value: UInt64, bytes: Int, want: String) throws {
        let d = TestDirectory()
        let p = d.file("lz4.mdl")
        try Self.write(p)
        try patchChunk(p, header: offset, value, bytes: bytes)
        let e = try #require(refusal(p), "a lying LZ4 chunk was accepted")
        #expect(e.contains(want) && e.contains("tensor w") && !e.contains("\n"), "\(e)")
    }

    @Test func theLZ4ChunkIsWhereTheTestLooks() throws {
        // Guards the patch tests above: the file holds the chunk header the patches change.
        let d = TestDirectory()
        let p = d.file("lz4.mdl")
        try Self.write(p)
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        let needle = Array(Self.tensorBytes[0..<32])
        let at = try #require((0...(data.count - needle.count)).first { Array(data[$0..<($0 + needle.count)]) == needle })
        #expect(Array(data[(at - 16)..<at]) == [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0])
    }
}
