import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Files written by the real torch (tools/make_torch_fixtures.py, torch 2.13, numpy 2,
/// megatron-core 0.16.1) against what torch reported about them (expected.json).
@Suite struct TorchFixtureTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/interop/torch-misc").path

    static func expected(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))
        let all = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(all[file] as? [String: Any])
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test(arguments: ["state_dict.pt", "misc.pt"])
    func everyTensorMatchesTorch(file: String) throws {
        let want = try Self.expected(file)
        let a = try TorchArchive(path: Self.dir + "/" + file)
        #expect(a.prefix == want["prefix"] as? String)
        #expect(a.root.entries?.map { $0.key.stringValue ?? "?" } == want["keys"] as? [String])
        let tensors = try #require(want["tensors"] as? [String: [String: Any]])
        let got = Dictionary(uniqueKeysWithValues: a.root.tensorsWithPaths.map { ($0.path, $0.tensor) })
        #expect(Set(got.keys) == Set(tensors.keys))
        for (path, w) in tensors {
            let t = try #require(got[path], "\(path)")
            #expect(t.dtypeName == w["dtype"] as? String, "\(path)")
            #expect(t.shape == w["shape"] as? [Int], "\(path)")
            #expect(t.strides == w["stride"] as? [Int], "\(path)")
            #expect(t.storageOffset == w["offset"] as? Int, "\(path)")
            #expect(t.requiresGrad == w["requires_grad"] as? Bool, "\(path)")
            #expect(t.isParameter == w["is_parameter"] as? Bool, "\(path)")
            #expect(try TorchTensorBounds.storageBytes(t.storage, path: "", name: "") == w["storage_bytes"] as? Int, "\(path)")
            try a.check(t, name: path)
            let bytes = Self.hex(try #require(w["hex"] as? String))
            guard let dtype = TorchDTypeName.dtype(t.dtypeName) else {
                // Not readable as a ckpt tensor; the storage record holds exactly torch's bytes.
                let e = try a.storageEntry(t.storage, tensor: path)
                #expect(try a.zip.contents(of: e, limit: 1 << 20) == bytes, "\(path)")
                #expect(throws: ContainerError.badTensor(path: a.path, tensor: path, detail: "dtype \(t.dtypeName) has no ckpt equivalent; it cannot be read"))
                {
                    _ = try TorchTestSupport.read(a, t, .whole(t.shape), 1, name: path)
                }
                continue
            }
            #expect(try TorchTestSupport.read(a, t, .whole(t.shape), dtype.size) == bytes, "\(path)")
            if t.shape.count >= 1, t.shape[0] > 1 {
                // Rows 1... and, in 2-d, columns 1..., against the contiguous bytes torch gave.
                var box = TensorBox.whole(t.shape)
                box.offsets[0] = 1
                box.sizes[0] -= 1
                if t.shape.count == 2, t.shape[1] > 1 {
                    box.offsets[1] = 1
                    box.sizes[1] -= 1
                }
                let ref = TorchTestSupport.gather(bytes, elementSize: dtype.size, offset: 0, strides: TorchTestSupport.rowMajor(t.shape), box: box)
                #expect(try TorchTestSupport.read(a, t, box, dtype.size) == ref, "\(path) \(box)")
            }
        }
    }

    @Test func stateDictContainerListsEveryTensor() throws {
        let want = try Self.expected("state_dict.pt")
        let c = try TorchStateDictContainer(path: Self.dir + "/state_dict.pt")
        #expect(c.tensors.map(\.key.name) == want["keys"] as? [String])
        #expect(c.skipped.isEmpty && c.unsupported.isEmpty)
        // The tied weight: two names, one storage.
        #expect(c.reference(.model("wte.weight"))?.storage == c.reference(.model("head.weight"))?.storage)
        #expect(c.describe(.model("fc.weight")) == ContainerTensor(key: .model("fc.weight"), dtype: .bfloat16, shape: [6, 4]))
    }

    @Test func nonTensorValuesMatchTorch() throws {
        let want = try Self.expected("misc.pt")
        let r = try TorchArchive(path: Self.dir + "/misc.pt").root
        // argparse.Namespace with a torch dtype and a Megatron enum.
        guard case .object(let args)? = r["args"] else { throw ContainerError.malformed(path: "", detail: "args") }
        #expect(args.type == PickleGlobal(module: "argparse", name: "Namespace") && args.construction == .newObject)
        #expect(r["args"]?["params_dtype"] == .global(PickleGlobal(module: "torch", name: "bfloat16")))
        #expect(
            r["args"]?["attention_backend"]
                == .object(PickleObject(type: PickleGlobal(module: "megatron.core.transformer.enums", name: "AttnBackend"), args: [.int(1)])))
        #expect(r["args"]?["num_layers"] == .int(2) && r["args"]?["lr"] == .float(1.5e-4) && r["args"]?["name"] == .string("gpt"))
        // numpy's uint32 state array: _reconstruct, then BUILD (version, shape, dtype, fortran, bytes).
        let np = try #require(r["np_state"]?.elements)
        #expect(np[0] == .string("MT19937") && np[2] == .int(624))
        guard case .object(let arr) = np[1], case .tuple(let st)? = arr.state else { throw ContainerError.malformed(path: "", detail: "ndarray") }
        #expect(arr.type == PickleGlobal(module: "numpy._core.multiarray", name: "_reconstruct"))
        #expect(arr.args.first == .global(PickleGlobal(module: "numpy", name: "ndarray")))
        #expect(st[1] == .tuple([.int(624)]))
        if case .object(let dt) = st[2] { #expect(dt.type == PickleGlobal(module: "numpy", name: "dtype") && dt.args.first == .string("u4")) }
        #expect(st[4] == .bytes(Self.hex(want["np_state_hex"] as! String)))
        #expect(r["bytes"] == .bytes([0, 1, 255, 97, 98, 99]))
        guard case .object(let bio)? = r["bytesio"], case .tuple(let bs)? = bio.state else { throw ContainerError.malformed(path: "", detail: "BytesIO") }
        #expect(bio.type == PickleGlobal(module: "_io", name: "BytesIO") && bs.first == .bytes(Array("extra state".utf8)))
        #expect(r["od"] == TorchTestSupport.dict([("z", .int(1)), ("a", .int(2))]))
        #expect(r["big"] == PickleIntegers.parseDecimal(Array((want["big"] as! String).utf8)[...]))
        #expect(r["neg_big"] == PickleIntegers.parseDecimal(Array((want["neg_big"] as! String).utf8)[...]))
        #expect(r["big"] == .bigInt([1] + Array(repeating: 0, count: 11) + [0x10]))
        #expect(r["nested"] == .list([.int(1), .tuple([.float(2.5), .list([.none, .bool(true)])]), TorchTestSupport.dict([("k", .tuple([.int(3)]))])]))
        let rs = try #require(r["random_state"]?.elements)
        let ints = try #require(rs[1].elements)
        #expect(rs[0] == .int(3) && rs[2] == .none)
        #expect(ints.count == want["random_state_len"] as? Int)
        #expect(ints.prefix(4).map { $0.intValue } == (want["random_state_first"] as! [Int]).map { Int64($0) })
    }
}
