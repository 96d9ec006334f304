import CheckpointStore
import Containers
import Foundation

@testable import Sharding

/// A decoded `torch.save` archive held in memory: a pickle tree and its storages' bytes.
final class InMemoryTorchSource: TorchPickleSource, @unchecked Sendable {
    // `@unchecked Sendable`: immutable after init.
    let path: String
    let root: PickleValue
    let storages: [String: [UInt8]]

    init(path: String, root: PickleValue, storages: [String: [UInt8]]) {
        self.path = path
        self.root = root
        self.storages = storages
    }

    func read(_ tensor: TorchTensorRef, box: TensorBox, into buffer: UnsafeMutableRawBufferPointer, name: String) throws(ContainerError) {
        guard let bytes = storages[tensor.storage.key], let d = DType(rawValue: tensor.dtypeName) else {
            throw .badTensor(path: path, tensor: name, detail: "no storage \(tensor.storage.key)")
        }
        guard box.fits(tensor.shape), buffer.count == box.count * d.size else {
            throw .badTensor(path: path, tensor: name, detail: "bad box \(box)")
        }
        var last = tensor.storageOffset
        for (s, st) in zip(tensor.shape, tensor.strides) where s > 0 { last += (s - 1) * st }
        guard tensor.shape.contains(0) || (last + 1) * d.size <= bytes.count else {
            throw .badTensor(path: path, tensor: name, detail: "storage shorter than the tensor")
        }
        bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress, let out = buffer.baseAddress else { return }
            StridedCopy.copy(
                from: base, elementSize: d.size, offset: tensor.storageOffset, shape: tensor.shape, strides: tensor.strides, box: box,
                into: out)
        }
    }
}

/// A `TorchArchiveSink` collecting storages and the root in memory.
final class InMemoryArchiveSink: TorchArchiveSink {
    final class Sink: TensorByteSink {
        let expected: Int
        var bytes: [UInt8] = []
        var done = false
        init(expected: Int) { self.expected = expected }
        func append(_ b: UnsafeRawBufferPointer) throws(ContainerError) {
            guard !done, bytes.count + b.count <= expected else { throw .malformed(path: "mem", detail: "too many bytes") }
            bytes += b
        }
        func finish() throws(ContainerError) {
            guard bytes.count == expected else { throw .malformed(path: "mem", detail: "short storage \(bytes.count)/\(expected)") }
            done = true
        }
    }

    let path: String
    var sinks: [(String, Sink)] = []
    var root: PickleValue?
    var aborted = false

    init(path: String) { self.path = path }

    func beginStorage(dtypeName: String, elementCount: Int) throws(ContainerError) -> (TorchStorageRef, any TensorByteSink) {
        guard let d = DType(rawValue: dtypeName) else { throw .unsupported(path: path, detail: dtypeName) }
        if let last = sinks.last, !last.1.done { throw .malformed(path: path, detail: "storage \(last.0) not finished") }
        let key = String(sinks.count)
        let s = Sink(expected: elementCount * d.size)
        sinks.append((key, s))
        return (TorchStorageRef(key: key, dtypeName: dtypeName, isUntyped: false, location: "cpu", count: elementCount), s)
    }

    func commit(root: PickleValue) throws(ContainerError) {
        if let last = sinks.last, !last.1.done { throw .malformed(path: path, detail: "storage \(last.0) not finished") }
        self.root = root
    }

    func abort() { aborted = true }

    /// The archive as a source to read back.
    func source() -> InMemoryTorchSource {
        InMemoryTorchSource(path: path, root: root ?? .none, storages: Dictionary(uniqueKeysWithValues: sinks.map { ($0.0, $0.1.bytes) }))
    }
}

/// Builds pickle trees the way `torch.save` of Megatron state looks once decoded.
final class TreeBuilder {
    var storages: [String: [UInt8]] = [:]
    private var nextKey = 0
    let path: String

    init(path: String) { self.path = path }

    /// A dense tensor of `dtype` with deterministic contents (seeded), in its own storage.
    func tensor(_ shape: [Int], _ dtype: DType = .float32, seed: UInt64) -> PickleValue {
        let n = shape.reduce(1, *)
        let key = String(nextKey)
        nextKey += 1
        storages[key] = Fixtures.randomBytes(n * dtype.size, seed: seed)
        return .tensor(
            MegatronStateDictBuilder.dense(
                TorchStorageRef(key: key, dtypeName: dtype.rawValue, isUntyped: false, location: "cpu", count: n),
                dtypeName: dtype.rawValue, shape: shape))
    }

    /// A 1-D float32 tensor holding exactly `values`.
    func floats(_ values: [Float]) -> PickleValue {
        let key = String(nextKey)
        nextKey += 1
        storages[key] = values.withUnsafeBytes { Array($0) }
        return .tensor(
            MegatronStateDictBuilder.dense(
                TorchStorageRef(key: key, dtypeName: "float32", isUntyped: false, location: "cpu", count: values.count),
                dtypeName: "float32", shape: [values.count]))
    }

    func source(_ root: PickleValue) -> InMemoryTorchSource {
        InMemoryTorchSource(path: path, root: root, storages: storages)
    }

    static func dict(_ items: [(String, PickleValue)]) -> PickleValue {
        .dict(items.map { PickleDictEntry(key: .string($0.0), value: $0.1) })
    }

    static func namespace(_ items: [(String, PickleValue)]) -> PickleValue {
        .object(PickleObject(type: PickleGlobal(module: "argparse", name: "Namespace"), state: dict(items)))
    }

    static func torch(_ name: String) -> PickleValue { .global(PickleGlobal(module: "torch", name: name)) }
}

/// The interop fixtures made by the real libraries (tools/make_interop_fixtures.py).
enum InteropFixtures {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/interop").path
    }

    static func expected(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + name + "/expected.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// A JSON value of expected.json as a pickle value (`torch.X` strings become globals).
    static func pickle(_ v: Any) -> PickleValue {
        switch v {
        case is NSNull: return .none
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return .bool(n.boolValue) }
            if String(cString: n.objCType) == "d" { return .float(n.doubleValue) }
            return .int(n.int64Value)
        case let s as String:
            if s.hasPrefix("torch."), !s.contains(" ") { return TreeBuilder.torch(String(s.dropFirst(6))) }
            return .string(s)
        case let a as [Any]: return .list(a.map(pickle))
        case let d as [String: Any]: return TreeBuilder.dict(d.keys.sorted().map { ($0, pickle(d[$0]!)) })
        default: return .none
        }
    }

    /// expected.json as a pickle value, numbers exact (`torch.X` strings become globals).
    static func exact(_ name: String) throws -> PickleValue {
        let text = try String(contentsOfFile: root + "/" + name + "/expected.json", encoding: .utf8)
        guard let tree = JSONTree.parse(text) else { throw ContainerError.malformed(path: name, detail: "expected.json") }
        func globals(_ v: PickleValue) -> PickleValue {
            switch v {
            case .string(let s) where s.hasPrefix("torch.") && !s.contains(" "): return TreeBuilder.torch(String(s.dropFirst(6)))
            case .list(let l): return .list(l.map(globals))
            case .dict(let d): return .dict(d.map { PickleDictEntry(key: $0.key, value: globals($0.value)) })
            default: return v
            }
        }
        return globals(try PickleJSON.decode(tree, path: name).value)
    }

    /// The fixture's recorded args as a Namespace (the subset expected.json keeps).
    static func args(_ name: String) throws -> PickleValue {
        guard case .dict(let a)? = try exact(name)["args"] else { return .none }
        return .object(PickleObject(type: PickleGlobal(module: "argparse", name: "Namespace"), state: .dict(a)))
    }
}
