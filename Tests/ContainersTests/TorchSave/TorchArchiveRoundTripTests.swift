import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// TorchArchiveWriter → TorchArchive / TorchStateDictContainer gives back the same bytes.
@Suite struct TorchArchiveRoundTripTests {
    static let dtypes = ["float32", "bfloat16", "float16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]

    @Test func everyDTypeRoundTripsThroughAStateDict() throws {
        let dir = TestDirectory()
        let path = dir.file("pytorch_model.bin")
        let w = try TorchArchiveWriter(path: path, prefix: "pytorch_model")
        var pairs: [(String, PickleValue)] = []
        var want: [String: [UInt8]] = [:]
        for (k, name) in Self.dtypes.enumerated() {
            let es = TorchDTypeName.elementSize(name)!
            let bytes = (0..<(6 * es)).map { name == "bool" ? UInt8($0 % 2) : UInt8(truncatingIfNeeded: $0 * 7 + k) }
            let s = try TorchTestSupport.storage(w, name, bytes)
            pairs.append(("w.\(name)", .tensor(TorchTestSupport.tensor(s, name, [2, 3]))))
            want["w.\(name)"] = bytes
        }
        pairs.append(("step", .int(7)))
        try w.commit(root: TorchTestSupport.dict(pairs))
        let c = try TorchStateDictContainer(path: path)
        #expect(c.tensors.map(\.key.name) == Self.dtypes.map { "w.\($0)" })
        #expect(c.tensors.map(\.dtype) == Self.dtypes.map { TorchDTypeName.dtype($0)! })
        #expect(c.skipped == ["step"])
        #expect(c.formatName == "torch" && !c.verifiesChecksums)
        for t in c.tensors { #expect(try c.readAll(t.key) == want[t.key.name], "\(t.key)") }
        #expect(c.archive.prefix == "pytorch_model")
    }

    @Test func viewsOfOneStorageWithOffsetsAndStrides() throws {
        let dir = TestDirectory()
        let path = dir.file("views.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "views")
        let data = (0..<60).flatMap { i -> [UInt8] in withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init) }
        let s = try TorchTestSupport.storage(w, "float32", data)
        let whole = TorchTestSupport.tensor(s, "float32", [6, 10])
        let rows = TorchTestSupport.tensor(s, "float32", [2, 10], offset: 30)
        let transposed = TorchTestSupport.tensor(s, "float32", [10, 6], strides: [1, 10])
        let column = TorchTestSupport.tensor(s, "float32", [6], offset: 3, strides: [10])
        let broadcast = TorchTestSupport.tensor(s, "float32", [4, 3], offset: 5, strides: [0, 1])
        let root = TorchTestSupport.dict([
            ("whole", .tensor(whole)), ("rows", .tensor(rows)), ("transposed", .tensor(transposed)), ("column", .tensor(column)),
            ("broadcast", .tensor(broadcast)),
        ])
        try w.commit(root: root)
        let a = try TorchArchive(path: path)
        #expect(a.root == root)
        for t in [whole, rows, transposed, column, broadcast] {
            var boxes = [TensorBox.whole(t.shape)]
            if t.shape.count == 2 {
                boxes += [
                    TensorBox(offsets: [1, 1], sizes: [t.shape[0] - 1, t.shape[1] - 2]), .rows(1..<2, of: t.shape),
                    TensorBox(offsets: [0, t.shape[1] - 1], sizes: [t.shape[0], 1]),
                ]
            }
            for box in boxes {
                #expect(
                    try TorchTestSupport.read(a, t, box, 4)
                        == TorchTestSupport.gather(data, elementSize: 4, offset: t.storageOffset, strides: t.strides, box: box),
                    "\(t.shape) \(t.strides) \(box)")
            }
        }
    }

    /// With a tiny scratch limit the reader splits boxes down to single elements.
    @Test func splittingNonContiguousReadsGivesTheSameBytes() throws {
        let dir = TestDirectory()
        let path = dir.file("split.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "split")
        let data = (0..<(3 * 4 * 5 * 2)).map { UInt8($0) }
        let s = try TorchTestSupport.storage(w, "int16", data)
        let t = TorchTestSupport.tensor(s, "int16", [5, 4, 3], strides: [1, 5, 20])
        try w.commit(root: .tensor(t))
        let a = try TorchArchive(path: path)
        let entry = try a.storageEntry(s, tensor: "t")
        for limit in [2, 6, 16, 40, 1 << 20] {
            for box in [TensorBox.whole([5, 4, 3]), TensorBox(offsets: [1, 1, 1], sizes: [3, 2, 2]), TensorBox(offsets: [4, 0, 2], sizes: [1, 4, 1])] {
                var out = [UInt8](repeating: 0, count: box.count * 2)
                try out.withUnsafeMutableBytes { b in
                    try TorchRegionReader(zip: a.zip, entry: entry, elementSize: 2, strides: t.strides, scratchLimit: limit)
                        .read(offset: 0, box: box, into: b.baseAddress!)
                }
                #expect(out == TorchTestSupport.gather(data, elementSize: 2, offset: 0, strides: t.strides, box: box), "limit \(limit) \(box)")
            }
        }
    }

    @Test func untypedStoragesCarryTheirDType() throws {
        let dir = TestDirectory()
        let path = dir.file("f8.pt")
        let w = try TorchArchiveWriter(path: path, prefix: "f8")
        let s8 = try TorchTestSupport.storage(w, "float8_e4m3fn", [1, 2, 3, 4])
        let s16 = try TorchTestSupport.storage(w, "uint16", [1, 0, 2, 0])
        #expect(s8.isUntyped && s8.count == 4 && s16.isUntyped && s16.count == 4)
        let f = TorchTestSupport.dict([
            ("f8", .tensor(TorchTestSupport.tensor(s8, "float8_e4m3fn", [4]))), ("u16", .tensor(TorchTestSupport.tensor(s16, "uint16", [2]))),
        ])
        try w.commit(root: f)
        let c = try TorchStateDictContainer(path: path)
        #expect(c.tensors.isEmpty)
        #expect(c.unsupported == ["f8": "float8_e4m3fn", "u16": "uint16"])
        #expect(throws: ContainerError.badTensor(path: path, tensor: "f8", detail: "dtype float8_e4m3fn has no ckpt equivalent; it cannot be read")) {
            var b = [UInt8](repeating: 0, count: 4)
            try b.withUnsafeMutableBytes { try c.read(.model("f8"), box: .whole([4]), into: $0) }
        }
        #expect(try TorchArchive(path: path).root == f)
    }

    @Test func parametersAndNestedValuesSurvive() throws {
        let dir = TestDirectory()
        let path = dir.file("model_optim_rng.pt")
        let w = try TorchArchiveWriter(path: path, prefix: TorchArchiveWriter.defaultPrefix(for: path))
        let s = try TorchTestSupport.storage(w, "bfloat16", [1, 2, 3, 4])
        var p = TorchTestSupport.tensor(s, "bfloat16", [2])
        p.isParameter = true
        p.requiresGrad = true
        let od = PickleValue.object(
            PickleObject(type: PickleGlobal(module: "collections", name: "OrderedDict"), dictItems: [PickleDictEntry(key: .string("w"), value: .tensor(p))]))
        let ns = PickleValue.object(
            PickleObject(
                type: PickleGlobal(module: "argparse", name: "Namespace"),
                state: TorchTestSupport.dict([("params_dtype", .global(PickleGlobal(module: "torch", name: "bfloat16"))), ("num_layers", .int(2))]),
                construction: .newObject))
        let root = TorchTestSupport.dict([
            ("model", od), ("args", ns), ("iteration", .int(1 << 40)), ("big", .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), ("b", .bytes([0, 200, 255])),
            ("nested", .list([.tuple([.float(0.5), .none, .bool(true)]), .set([.string("x")])])),
        ])
        try w.commit(root: root)
        let a = try TorchArchive(path: path)
        #expect(a.prefix == "model_optim_rng")
        // OrderedDict reads back as a dict; everything else is the same value.
        var want = root
        if case .dict(var e) = want {
            e[0].value = TorchTestSupport.dict([("w", .tensor(p))])
            want = .dict(e)
        }
        #expect(a.root == want)
        #expect(a.root["model"]?["w"] == .tensor(p))
        #expect(a.root.tensorsWithPaths.map(\.path) == ["model.w"])
    }
}
