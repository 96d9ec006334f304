import CheckpointStore
import Foundation
import Testing

@testable import Containers

/// Archives written by TorchArchiveWriter with a manifest of what torch must find in them.
/// The test checks them with ckpt's own reader; with `CKPT_TORCH_EXPORT_DIR` set it also leaves
/// them there for tools/check_torch_writer.sh, which loads each with the real
/// `torch.load(weights_only=True)` (also with `map_location="meta"`, `mmap=True` and torch's
/// computed storage offsets) and compares every tensor byte for byte.
@Suite struct TorchWriterExportTests {
    struct Export {
        var root: PickleValue
        var storages: [String: [UInt8]]
    }

    /// Writes `tensors` (name → dtype, shape, strides, offset, storage index) over `data`.
    static func write(_ path: String, storages data: [(String, [UInt8])], root build: ([TorchStorageRef]) -> PickleValue) throws -> Export {
        let w = try TorchArchiveWriter(path: path, prefix: TorchArchiveWriter.defaultPrefix(for: path))
        var refs: [TorchStorageRef] = [], bytes: [String: [UInt8]] = [:]
        for (dtype, b) in data {
            let r = try TorchTestSupport.storage(w, dtype, b)
            refs.append(r)
            bytes[r.key] = b
        }
        let root = build(refs)
        try w.commit(root: root)
        return Export(root: root, storages: bytes)
    }

    static func pattern(_ n: Int, seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 131 &+ seed &* 17) ^ ($0 >> 3)) } }

    /// Float bytes that are ordinary numbers in every float format (no NaN patterns to compare).
    static func floats<T: BinaryFloatingPoint>(_ n: Int, _: T.Type) -> [UInt8] {
        (0..<n).flatMap { i -> [UInt8] in withUnsafeBytes(of: T(Double(i) * 0.25 - 3)) { Array($0) } }
    }

    static func bf16(_ n: Int) -> [UInt8] {
        (0..<n).flatMap { i -> [UInt8] in
            let bits = Float(Double(i) * 0.5 - 2).bitPattern >> 16
            return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
    }

    static func exports(in dir: String) throws -> [(String, Export)] {
        var out: [(String, Export)] = []
        // 1. A state dict of every dtype, views, a parameter, float8 / uint16 (untyped storages).
        let sd = try write(
            dir + "/state_dict.pt",
            storages: [
                ("float32", floats(24, Float.self)), ("bfloat16", bf16(6)), ("float16", floats(6, Float16.self)), ("float64", floats(4, Double.self)),
                ("int64", pattern(32, seed: 1)), ("int32", pattern(16, seed: 2)), ("int16", pattern(12, seed: 3)), ("int8", pattern(5, seed: 4)),
                ("uint8", pattern(7, seed: 5)), ("bool", [1, 0, 0, 1]), ("float8_e4m3fn", [0x38, 0x40, 0xB8, 0x7E]), ("uint16", pattern(6, seed: 6)),
                ("float32", []),
            ]
        ) { s in
            var p = TorchTestSupport.tensor(s[2], "float16", [2, 3])
            p.isParameter = true
            p.requiresGrad = true
            var frozen = TorchTestSupport.tensor(s[3], "float64", [4])
            frozen.isParameter = true
            return TorchTestSupport.dict([
                ("f32", .tensor(TorchTestSupport.tensor(s[0], "float32", [4, 6]))),
                ("f32_rows", .tensor(TorchTestSupport.tensor(s[0], "float32", [2, 6], offset: 12))),
                ("f32_t", .tensor(TorchTestSupport.tensor(s[0], "float32", [6, 4], strides: [1, 6]))),
                ("f32_col", .tensor(TorchTestSupport.tensor(s[0], "float32", [4], offset: 2, strides: [6]))),
                ("bf16", .tensor(TorchTestSupport.tensor(s[1], "bfloat16", [2, 3]))),
                ("f16_param", .tensor(p)),
                ("f64_frozen", .tensor(frozen)),
                ("i64", .tensor(TorchTestSupport.tensor(s[4], "int64", [2, 2]))),
                ("i32", .tensor(TorchTestSupport.tensor(s[5], "int32", [4]))),
                ("i16", .tensor(TorchTestSupport.tensor(s[6], "int16", [3, 2]))),
                ("i8", .tensor(TorchTestSupport.tensor(s[7], "int8", [5]))),
                ("u8", .tensor(TorchTestSupport.tensor(s[8], "uint8", [7]))),
                ("mask", .tensor(TorchTestSupport.tensor(s[9], "bool", [2, 2]))),
                ("f8", .tensor(TorchTestSupport.tensor(s[10], "float8_e4m3fn", [4]))),
                ("u16", .tensor(TorchTestSupport.tensor(s[11], "uint16", [3]))),
                ("empty", .tensor(TorchTestSupport.tensor(s[12], "float32", [0, 3]))),
                ("scalar", .tensor(TorchTestSupport.tensor(s[0], "float32", [], offset: 5))),
            ])
        }
        out.append(("state_dict.pt", sd))
        // 2. Megatron's model_optim_rng.pt shape: args Namespace with a dtype and an enum,
        //    an OrderedDict model, rng state with bytes and a big int, sets, nested values.
        let mg = try write(dir + "/model_optim_rng.pt", storages: [("bfloat16", bf16(8)), ("uint8", pattern(16, seed: 9))]) { s in
            let ns = PickleValue.object(
                PickleObject(
                    type: PickleGlobal(module: "argparse", name: "Namespace"),
                    state: TorchTestSupport.dict([
                        ("params_dtype", .global(PickleGlobal(module: "torch", name: "bfloat16"))),
                        (
                            "attention_backend",
                            .object(PickleObject(type: PickleGlobal(module: "megatron.core.transformer.enums", name: "AttnBackend"), args: [.int(5)]))
                        ),
                        ("num_layers", .int(2)), ("lr", .float(1.5e-4)), ("tokenizer_type", .string("GPT2BPETokenizer")), ("fp16", .bool(false)),
                        ("seq_length", .none),
                    ]),
                    construction: .newObject))
            let model = PickleValue.object(
                PickleObject(
                    type: PickleGlobal(module: "collections", name: "OrderedDict"),
                    dictItems: [
                        PickleDictEntry(key: .string("embedding.word_embeddings.weight"), value: .tensor(TorchTestSupport.tensor(s[0], "bfloat16", [2, 4]))),
                        PickleDictEntry(
                            key: .string("decoder.final_layernorm.weight"), value: .tensor(TorchTestSupport.tensor(s[0], "bfloat16", [4], offset: 4))),
                    ]))
            return TorchTestSupport.dict([
                ("args", ns), ("checkpoint_version", .float(3.0)), ("iteration", .int(1000)), ("model", model),
                (
                    "rng_state",
                    .list([
                        TorchTestSupport.dict([
                            ("random_rng_state", .tuple([.int(3), .tuple([.int(2_147_483_648), .int(4_294_967_295), .int(-1)]), .none])),
                            ("torch_rng_state", .tensor(TorchTestSupport.tensor(s[1], "uint8", [16]))),
                            ("blob", .bytes([0, 1, 127, 128, 255])), ("empty_blob", .bytes([])),
                        ])
                    ])
                ),
                ("big", .bigInt([1] + Array(repeating: 0, count: 11) + [0x10])), ("neg", .int(-(1 << 40))),
                ("tags", .set([.string("a"), .string("b")])),
                ("nested", .list([.tuple([]), .tuple([.int(1)]), .tuple([.int(1), .int(2), .int(3), .int(4)])])),
                ("num_floating_point_operations_so_far", .int(0)),
            ])
        }
        out.append(("model_optim_rng.pt", mg))
        // 3. Storages used out of write order: no .format_version, torch reads the headers.
        let ro = try write(dir + "/reordered.pt", storages: [("int32", pattern(8, seed: 11)), ("int32", pattern(8, seed: 12))]) { s in
            .list([.tensor(TorchTestSupport.tensor(s[1], "int32", [2])), .tensor(TorchTestSupport.tensor(s[0], "int32", [2]))])
        }
        out.append(("reordered.pt", ro))
        return out
    }

    /// What torch must report for each tensor: dtype, shape, strides, offset, flags, bytes.
    static func manifest(_ e: Export) -> [String: Any] {
        var tensors: [String: Any] = [:]
        for (path, t) in e.root.tensorsWithPaths {
            let es = TorchDTypeName.elementSize(t.dtypeName)!
            let bytes = TorchTestSupport.gather(e.storages[t.storage.key]!, elementSize: es, offset: t.storageOffset, strides: t.strides, box: .whole(t.shape))
            tensors[path] =
                [
                    "dtype": t.dtypeName, "shape": t.shape, "stride": t.strides, "offset": t.storageOffset, "requires_grad": t.requiresGrad,
                    "is_parameter": t.isParameter, "hex": bytes.map { String(format: "%02x", $0) }.joined(),
                ] as [String: Any]
        }
        return ["tensors": tensors]
    }

    @Test func exportsReadBackAndLeaveAManifest() throws {
        let env = ProcessInfo.processInfo.environment["CKPT_TORCH_EXPORT_DIR"]
        let scratch = TestDirectory()
        let dir = env ?? scratch.path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var manifest: [String: Any] = [:]
        for (name, e) in try Self.exports(in: dir) {
            let a = try TorchArchive(path: dir + "/" + name)
            #expect(a.root == Self.readBack(e.root), "\(name)")
            for (path, t) in a.root.tensorsWithPaths {
                let es = TorchDTypeName.elementSize(t.dtypeName)!
                let want = TorchTestSupport.gather(
                    e.storages[t.storage.key]!, elementSize: es, offset: t.storageOffset, strides: t.strides, box: .whole(t.shape))
                if TorchDTypeName.dtype(t.dtypeName) != nil {
                    #expect(try TorchTestSupport.read(a, t, .whole(t.shape), es) == want, "\(name) \(path)")
                }
            }
            manifest[name] = Self.manifest(e)
        }
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    /// The reader's view of a written value: OrderedDict records come back as dicts.
    static func readBack(_ v: PickleValue) -> PickleValue {
        switch v {
        case .object(let o) where o.type == PickleGlobal(module: "collections", name: "OrderedDict") && o.args.isEmpty:
            return .dict(o.dictItems.map { PickleDictEntry(key: readBack($0.key), value: readBack($0.value)) })
        case .object(var o):
            o.args = o.args.map(readBack)
            o.state = o.state.map(readBack)
            return .object(o)
        case .dict(let e): return .dict(e.map { PickleDictEntry(key: readBack($0.key), value: readBack($0.value)) })
        case .list(let e): return .list(e.map(readBack))
        case .tuple(let e): return .tuple(e.map(readBack))
        default: return v
        }
    }
}
